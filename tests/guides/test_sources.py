"""The guides cite their sources as published: authors, year, title, journal, volume and DOI
as the publishers' pages give them (`shared/references.md`), not as the article the guides
were first drawn from had them (three of five journals were wrong there)."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from shop.guides.library import CONTENT, Guide, Library, Source


class Published(NamedTuple):
    authors: str
    year: int
    journal: str
    volume: str
    doi: str | None


# Checked against the publishers' and indexes' pages; keyed by the first author.
PUBLISHED = {
    "Marzban": Published(
        "Marzban, S., Amani, B., & Asgharzadeh, A.",
        2017,
        "Health Technology Assessment in Action",
        "1(2), e14078",
        "10.5812/htaa.14078",
    ),
    "Aledani": Published(
        "Aledani, E. M., Kaur, H., Kasapoglu, M., Yadavalli, R., Nawaz, S., Althwanay, A., & "
        "Nath, T. S.",
        2024,
        "Cureus",
        "16(5), e59705",
        "10.7759/cureus.59705",
    ),
    "Gupta": Published(
        "Gupta, A. K., Polla Ravi, S., Wang, T., Talukder, M., Starace, M., & Piraccini, B. M.",
        2023,
        "Journal of Dermatological Treatment",
        "34(1), 2245084",
        "10.1080/09546634.2023.2245084",
    ),
    "Tang": Published(
        "Tang, Z., Hu, Y., Wang, J., Fan, Z., Qu, Q., & Miao, Y.",
        2022,
        "Journal of Cosmetic Dermatology",
        "21(10)",
        "10.1111/jocd.14900",
    ),
    "Najafizade": Published(
        "Najafizade, E., Jamali, A. K., & Zahraei, S. A. H.",
        2021,
        "Journal of Clinical Images and Medical Case Reports",
        "2, 1518",
        None,  # a case report without a DOI: cited by the journal's own PDF
    ),
}
# The journals the source article named wrongly: never cited.
WRONG_JOURNALS = (
    "Hair Therapy & Transplantation",
    "Journal of Clinical and Investigative Medicine",
    "23(4), 678-689",
)

GUIDES = Library.load(CONTENT).guides
CITED = [(g.slug, s) for g in GUIDES for s in g.sources]


def _published(source: Source) -> Published:
    first_author = source.citation.split(",", 1)[0]
    assert first_author in PUBLISHED, f"{first_author}: not in the table of published sources"
    return PUBLISHED[first_author]


@pytest.mark.parametrize(
    ("slug", "source"), CITED, ids=[f"{s}-{n}" for n, (s, _) in enumerate(CITED)]
)
def test_a_guide_cites_authors_year_journal_volume_and_doi_as_published(
    slug: str, source: Source
) -> None:
    published = _published(source)
    assert source.citation.startswith(f"{published.authors} ({published.year}). ")
    assert f". {published.journal}, {published.volume}" in source.citation
    if published.doi:
        assert source.url == f"https://doi.org/{published.doi}"
    else:
        assert source.url and "doi.org" not in source.url
    for wrong in WRONG_JOURNALS:
        assert wrong not in source.citation


def test_every_published_source_is_cited_by_some_guide() -> None:
    assert {_published(source).authors for _slug, source in CITED} == {
        p.authors for p in PUBLISHED.values()
    }


def _cites(guide: Guide, first_author: str) -> bool:
    return any(s.citation.startswith(f"{first_author},") for s in guide.sources)


def test_a_guide_citing_the_case_report_says_it_is_one() -> None:
    citing = [g for g in GUIDES if _cites(g, "Najafizade")]
    assert citing
    for guide in citing:
        assert "case report" in guide.html.lower(), guide.slug
