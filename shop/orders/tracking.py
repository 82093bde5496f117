"""Links to a parcel on its carrier's tracking page."""

from __future__ import annotations

from urllib.parse import quote

# Carriers by the name staff type when they ship (case and spaces ignored).
TRACKING_PAGES = {
    "dhl": "https://www.dhl.com/global-en/home/tracking/tracking-parcel.html?tracking-id={}",
    "dhlexpress": "https://www.dhl.com/global-en/home/tracking/tracking-express.html?tracking-id={}",
    "ups": "https://www.ups.com/track?tracknum={}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={}",
    "dpd": "https://tracking.dpd.de/status/en_US/parcel/{}",
    "gls": "https://gls-group.com/track/{}",
    "tnt": "https://www.tnt.com/express/en_gc/site/shipping-tools/tracking.html?cons={}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "deutschepost": "https://www.deutschepost.de/sendung/simpleQuery.html?form.sendungsnummer={}",
}


def tracking_url(carrier: str, number: str) -> str | None:
    """The carrier's page for this tracking number, or None for a carrier we do not know."""
    key = "".join(carrier.lower().split()).replace("-", "")
    page = TRACKING_PAGES.get(key)
    if page is None or not number.strip():
        return None
    return page.format(quote(number.strip(), safe=""))
