"""Booking ids and meeting links (mock_server.domain.booking.IdFactory)."""

from __future__ import annotations

import re
import string
from collections import Counter

from mock_server.domain.booking import IdFactory


def test_ids_and_links_repeat_with_a_seed_across_pool_refills():
    """More ids than one pool of characters holds: the seeded stream goes on the same."""
    first, second = IdFactory(seed=7), IdFactory(seed=7)
    drawn = [(first.booking_id(), first.meeting_link("Zoom")) for _ in range(1000)]
    assert drawn == [(second.booking_id(), second.meeting_link("Zoom")) for _ in range(1000)]
    assert IdFactory(seed=8).booking_id() != drawn[0][0]


def test_ids_and_links_are_drawn_from_their_alphabets():
    ids = IdFactory(seed=1)
    for _ in range(500):
        assert re.fullmatch(r"bkg_[A-Za-z0-9]{14}", ids.booking_id())
        assert re.fullmatch(
            r"https://meet\.google\.com/[a-z]{3}-[a-z]{4}-[a-z]{3}", ids.meeting_link("GoogleMeet")
        )
        assert re.fullmatch(r"https://zoom\.us/j/[0-9]{11}", ids.meeting_link("Zoom"))


def test_every_character_of_an_alphabet_is_about_as_likely():
    """Random bytes map to characters by a table that gives each the same byte values, so
    no character is drawn more often (a plain modulo would favour the first eight)."""
    ids = IdFactory(seed=3)
    counts = Counter("".join(ids.booking_id()[4:] for _ in range(20_000)))
    assert set(counts) == set(string.ascii_letters + string.digits)
    expected = 20_000 * 14 / 62
    # Four standard deviations of a fair draw (about 66 here) either way.
    assert all(abs(n - expected) < 4 * 66 for n in counts.values()), counts.most_common(3)
