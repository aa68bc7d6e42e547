"""The catalogue's tree: lineages, the community taxon over identifications at mixed ranks, and the
higher classification exports carry."""
from __future__ import annotations

import pytest

from server.species.models import Species
from server.species.taxonomy import (classification, classifications, community_taxon, lineage_of, lineages,
                                     research_rank)

PARENTS = {"Adelaide's Warbler": "Setophaga", "Elfin Woods Warbler": "Setophaga", "Setophaga": "Parulidae",
           "Parulidae": "Unknown bird", "Bananaquit": "Thraupidae", "Thraupidae": "Unknown bird",
           "Unknown bird": "Identity unknown"}
LINEAGES = {label: lineage_of(label, PARENTS) for label in PARENTS}


def test_lineage_walks_to_the_root_and_survives_a_loop():
    assert lineage_of("Elfin Woods Warbler", PARENTS) == ("Elfin Woods Warbler", "Setophaga", "Parulidae",
                                                          "Unknown bird", "Identity unknown")
    assert lineage_of("siren", PARENTS) == ("siren",)
    assert lineage_of("a", {"a": "b", "b": "a"}) == ("a", "b")


@pytest.mark.parametrize("labels, expected", [
    ([], (None, 0)),
    (["Bananaquit", "Bananaquit"], ("Bananaquit", 2)),
    # an ancestor's identification is neutral: it does not stop the species
    (["Elfin Woods Warbler", "Unknown bird", "Elfin Woods Warbler"], ("Elfin Woods Warbler", 2)),
    # two warblers disagree at species rank; their genus is what more than 2/3 support
    (["Elfin Woods Warbler", "Adelaide's Warbler", "Setophaga"], ("Setophaga", 3)),
    # a warbler against a tanager: only "a bird" has the agreement
    (["Elfin Woods Warbler", "Bananaquit"], ("Unknown bird", 2)),
    # 3 of 4 name the species: 3/4 > 2/3
    (["Bananaquit", "Bananaquit", "Bananaquit", "Elfin Woods Warbler"], ("Bananaquit", 3)),
    # 2 of 3: not more than 2/3, so the common ancestor
    (["Bananaquit", "Bananaquit", "Elfin Woods Warbler"], ("Unknown bird", 3)),
    # labels outside the tree are their own lineage
    (["siren", "siren", "dog_bark"], (None, 0)),
    (["siren", "siren", "siren"], ("siren", 3)),
])
def test_community_taxon(labels, expected):
    assert community_taxon(labels, LINEAGES) == expected


def test_only_species_rank_is_research_grade():
    assert research_rank("species")
    assert not any(research_rank(r) for r in ("genus", "family", "class", "kingdom", "sound_class", "soundscape"))


def test_classification_names_each_rank_and_falls_back_to_the_kinds_kingdom():
    chain = [("species", "Setophaga angelae"), ("genus", "Setophaga"), ("family", "Parulidae"), ("class", "Aves")]
    assert classification(chain, "bird") == {"kingdom": "Animalia", "class": "Aves", "order": "",
                                             "family": "Parulidae", "genus": "Setophaga"}
    assert classification([("species", "x")], "urban")["kingdom"] == ""


@pytest.mark.django_db
def test_catalogue_lineages_and_classifications(catalogue):
    chain = lineages(["Elfin Woods Warbler", "Puerto Rican Coqui"])
    assert chain["Elfin Woods Warbler"] == ("Elfin Woods Warbler", "Setophaga", "Parulidae", "Unknown bird",
                                            "Identity unknown")
    assert chain["Puerto Rican Coqui"][-4:] == ("Eleutherodactylidae", "Unknown frog", "Unknown amphibian",
                                                "Identity unknown")
    by_id = classifications()
    coqui = by_id[Species.objects.get(label="Puerto Rican Coqui").pk]
    assert coqui == {"kingdom": "Animalia", "class": "Amphibia", "order": "Anura", "family": "Eleutherodactylidae",
                     "genus": "Eleutherodactylus"}
    assert Species.objects.get(label="siren").pk not in by_id
