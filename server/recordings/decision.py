"""What analysis decides about a recording's species from the player's claim and the model's answer.

Pure rules (no database; :mod:`.outcome` looks the labels up and writes the rows):

* **With a claim**, the observation's species is the claim, scored by the model (the probability
  the model gives the claimed label is the observation's confidence).
* **Without a claim**, the model's answer, unless it is "unknown" (then there is no species and the
  recording is kept as ``unidentified``).
* **A kind conflict**: the claim is a bird and the model hears a city sound (its answer is not
  "unknown" and its label has kind ``urban`` in the catalogue), or the reverse. The observation keeps
  the claimed species, needs an identification whatever the model's score for the claim (weak
  evidence never makes it casual), and stores both answers. It is never an observation of the
  model's kind.

Every decision stores the answers it weighed (``answers``: ``{"claim": ..., "model": ...}``, each
``{"label", "kind", "confidence", "model_version"}``; a side that does not exist is left out), so
the API can show both. ``model`` is the server's verdict; each model that took part in it adds its own
answer and version (``field``, and ``verifier`` where the verifier is installed), which weigh nothing here.
"""
from __future__ import annotations

from dataclasses import dataclass

CONFLICTING_KINDS = frozenset({"bird", "urban"})   # catalogue kinds that cannot be the same sound


@dataclass(frozen=True)
class Answer:
    """One identification: a label, its catalogue kind ("" when the catalogue does not know the label),
    the confidence its source gave (None: not stated) and the model version that gave it."""

    label: str
    kind: str
    confidence: float | None
    model_version: str

    def to_dict(self) -> dict:
        return {"label": self.label, "kind": self.kind,
                "confidence": None if self.confidence is None else round(float(self.confidence), 4),
                "model_version": self.model_version}


@dataclass(frozen=True)
class Decision:
    """The observation's species label (None: unidentified), its confidence, whether the claim and the
    model disagree about the kind of sound, and the answers weighed (see the module docstring)."""

    label: str | None
    confidence: float
    kind_conflict: bool
    answers: dict


def kinds_conflict(claimed_kind: str, heard_kind: str) -> bool:
    """True when one is a bird and the other a city sound (other kinds never conflict)."""
    return claimed_kind != heard_kind and claimed_kind in CONFLICTING_KINDS and heard_kind in CONFLICTING_KINDS


def decide(claim: Answer | None, model: Answer | None, model_unknown: bool, claim_score: float,
           models: dict[str, Answer] | None = None) -> Decision:
    """The decision for one recording.

    ``model`` is the verdict's top answer (None: nothing was classified), ``model_unknown`` whether it fell
    below the verdict's unknown threshold, ``claim_score`` the probability the verdict gives the claimed
    label; ``models`` each model's own answer (stored in ``answers``, not weighed).
    """
    answers = {name: a.to_dict() for name, a in (("claim", claim), ("model", model)) if a is not None}
    answers.update({name: a.to_dict() for name, a in (models or {}).items() if name not in answers})
    if claim is not None:
        conflict = model is not None and not model_unknown and kinds_conflict(claim.kind, model.kind)
        return Decision(claim.label, float(claim_score), conflict, answers)
    if model is None or model_unknown:
        return Decision(None, 0.0, False, answers)
    return Decision(model.label, float(model.confidence or 0.0), False, answers)
