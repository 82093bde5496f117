"""The course planner: from patients, sessions per course and injections per session to the
needles and packs a clinic needs, priced with today's quantity breaks.

A needle is sterile and single use: every patient's session takes at least one new needle,
and a fine tip is changed again after the number of injections the clinic chooses (it
blunts). A multi-injector head covers a whole session, however many injections it gives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from shop.catalog.models import Kind, Variant

# From the treatment guides: a course of hair mesotherapy is six to eight sessions.
DEFAULT_SESSIONS = 6
DEFAULT_INJECTIONS = 100
DEFAULT_INJECTIONS_PER_NEEDLE = 100
LIMITS = {
    "patients": (1, 10_000),
    "sessions": (1, 50),
    "injections": (1, 2_000),
    "per_needle": (1, 2_000),
}


@dataclass(frozen=True)
class Course:
    patients: int
    sessions: int = DEFAULT_SESSIONS
    injections: int = DEFAULT_INJECTIONS
    per_needle: int = DEFAULT_INJECTIONS_PER_NEEDLE


@dataclass(frozen=True)
class Plan:
    variant: Variant
    course: Course
    needles_per_session: int
    needles: int
    packs: int
    unit_amount: int

    @property
    def amount(self) -> int:
        return self.packs * self.unit_amount

    @property
    def spare(self) -> int:
        """Needles left over in the last pack (or from the minimum order)."""
        return self.packs * self.variant.pack_size - self.needles

    @property
    def raised_to_minimum(self) -> bool:
        return self.packs == self.variant.min_order_quantity and self.packs > math.ceil(
            self.needles / self.variant.pack_size
        )


def plan(variant: Variant, course: Course) -> Plan:
    """What `course` takes of `variant`: needles, whole packs (at least the minimum order),
    and the price per pack the quantity breaks give for that many packs."""
    if variant.product.kind == Kind.MULTI_INJECTOR.value:
        per_session = 1
    else:
        per_session = max(1, math.ceil(course.injections / course.per_needle))
    needles = course.patients * course.sessions * per_session
    packs = max(math.ceil(needles / variant.pack_size), variant.min_order_quantity)
    return Plan(
        variant=variant,
        course=course,
        needles_per_session=per_session,
        needles=needles,
        packs=packs,
        unit_amount=variant.unit_amount_for(packs),
    )
