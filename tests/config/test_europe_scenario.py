"""The built-in europe scenario as of late 2026: the sites, antennas and dated what-ifs it was
brought current with (configs/europe.yaml, configs/whatif/), checked against their sources."""

from __future__ import annotations

import datetime as dt

import pytest

from twin.config import builtin_whatifs, load_config
from twin.config.loader import resolve_source

GIGAFACTORY_BIDS = (
    "gigafactory_es_mora_madrid",
    "gigafactory_es_alava",
    "gigafactory_de_telekom",
    "gigafactory_de_ionos",
    "gigafactory_de_schwarz",
    "gigafactory_pt_sines",
)
NEW_WHATIFS = (*GIGAFACTORY_BIDS, "antenna_access")
# id -> (accelerator type, count, MW, online_from): the numbers the comments source
PLANNED = {
    "healthai_cesga": ("NextGen", 1500, 3, dt.date(2027, 3, 1)),
    "mistral_les_ulis": ("GB300", 4300, 10, dt.date(2026, 7, 1)),
    "nebius_bethune": ("GB300", 52000, 120, dt.date(2026, 12, 31)),
    "nebius_bethune_2": ("GB300", 52000, 120, dt.date(2027, 7, 1)),
    "nebius_lappeenranta": ("GB300", 135000, 310, dt.date(2027, 7, 1)),
    "mistral_borlange": ("GB300", 10000, 23, dt.date(2027, 7, 1)),
    "schwarz_luebbenau": ("GB300", 100000, 200, dt.date(2027, 12, 31)),
}
ANTENNA_HOSTS = {
    "antenna_lumi": ["lumi", "lumi_ai"],
    "antenna_jaif": ["jupiter"],
    "antenna_pharos": ["daedalus"],
    "antenna_ai2f": ["alice_recoque"],
    "antenna_aiat": ["aiat"],
    "antenna_ro": ["roaif"],
    "antenna_brain": ["discoverer"],
}
ANTENNA_COUNTRIES = {"BE", "CY", "HU", "IE", "LV", "MT", "SK", "IS", "MD", "CH", "GB", "MK", "RS"}


@pytest.fixture(scope="module")
def europe():
    return load_config("europe")


def test_mistral_compute_is_13800_gb300_at_44_mw_from_end_of_june_2026(europe):
    site = europe.site("mistral_compute")
    assert [(p.accelerator, p.count) for p in site.pools] == [("GB300", 13800)]
    assert site.power_mw == 44
    assert site.online_from.date() == dt.date(2026, 6, 30)
    assert "GB300" in europe.accelerators


@pytest.mark.parametrize("site_id", sorted(PLANNED))
def test_new_sites_load_with_their_numbers_and_a_link(europe, site_id):
    accelerator, count, mw, opens = PLANNED[site_id]
    site = europe.site(site_id)
    assert [(p.accelerator, p.count) for p in site.pools] == [(accelerator, count)]
    assert site.power_mw == mw
    assert site.online_from.date() == opens
    links = [link for link in europe.links if site_id in (link.a, link.b)]
    assert len(links) == 1, "one access link to a PoP, so the site carries no transit"
    (link,) = links
    other = link.b if link.a == site_id else link.a
    assert other in {pop.id for pop in europe.pops}
    pop = next(p for p in europe.pops if p.id == other)
    assert pop.country == site.country, "linked to an in-country PoP"


@pytest.mark.parametrize("site_id", sorted(PLANNED))
def test_counts_from_power_leave_the_cap_unbound(europe, site_id):
    """A fully busy campus draws count x TDP x PUE, within the cap its MW gives (the 2.3 kW
    facility per GPU rule leaves headroom for what the model does not count)."""
    site = europe.site(site_id)
    draw_mw = sum(p.count * europe.accelerators[p.accelerator].tdp_w for p in site.pools)
    assert draw_mw * site.pue / 1e6 <= site.power_mw


def test_the_19_ai_factories_include_1healthai_and_every_antenna_host_is_a_site(europe):
    ids = {site.id for site in europe.sites}
    assert {"healthai_cesga", *(h for hosts in ANTENNA_HOSTS.values() for h in hosts)} <= ids
    assert europe.site("healthai_cesga").country == "ES"


def test_antennas_are_tenants_and_demand_regions(europe):
    assert set(ANTENNA_HOSTS) <= set(europe.tenants)
    antennas = sum(europe.tenants[name].share for name in ANTENNA_HOSTS)
    others = sum(t.share for name, t in europe.tenants.items() if name not in ANTENNA_HOSTS)
    # 13 antennas x 0.0023: about 3% of jobs
    assert antennas == pytest.approx(13 * 0.0023)
    assert 0.025 < antennas / (antennas + others) < 0.035
    regions = {region.country for region in europe.workloads.inference.regions}
    assert regions >= ANTENNA_COUNTRIES
    ids = [region.id for region in europe.workloads.inference.regions]
    assert len(ids) == len(set(ids))


def test_antenna_access_reserves_each_host_for_its_own_antennas(europe):
    changed = load_config("europe", whatifs=["antenna_access"])
    assert europe.access is None
    programmes = changed.access.programmes
    assert {tuple(p.tenants): p.sites for p in programmes.values()} == {
        (tenant,): hosts for tenant, hosts in ANTENNA_HOSTS.items()
    }
    assert all(p.reserved_share == 0.05 for p in programmes.values())
    both = load_config("europe", whatifs=["startup_reserve", "antenna_access"])
    assert len(both.access.programmes) == len(programmes) + 2


@pytest.mark.parametrize("whatif", NEW_WHATIFS)
def test_new_whatifs_are_built_in_with_a_first_line_description(whatif):
    path = builtin_whatifs()[whatif]
    assert resolve_source(whatif, builtin_whatifs(), what="what-if") == path
    first = path.read_text().splitlines()[0]
    assert first.startswith("# What-if")
    if whatif in GIGAFACTORY_BIDS:
        assert first.startswith("# What-if (dated):")


@pytest.mark.parametrize("whatif", GIGAFACTORY_BIDS)
def test_each_bid_is_a_dated_gigafactory(europe, whatif):
    """Regulation (EU) 2026/150: more than 100,000 advanced AI processors, multi-site
    allowed; every bid opens on a date after the scenario's start, so the default run is
    unchanged until then."""
    changed = load_config("europe", whatifs=[whatif])
    base_ids = {site.id for site in europe.sites}
    added = [site for site in changed.sites if site.id not in base_ids]
    assert added and all(site.id.startswith("gf_") for site in added)
    assert sum(p.count for site in added for p in site.pools) > 100_000
    assert len({site.online_from for site in added}) == 1
    assert all(site.online_from > europe.start for site in added)
    assert all(any(site.id in (link.a, link.b) for link in changed.links) for site in added)


def test_investai_keeps_only_the_slots_without_a_named_bid():
    base = load_config("europe")
    changed = load_config("europe", whatifs=["investai_gigafactories"])
    added = {site.id: site.country for site in changed.sites}.items() - {
        (site.id, site.country) for site in base.sites
    }
    assert dict(added) == {"gf_slot_2": "IT", "gf_slot_3": "PL"}
