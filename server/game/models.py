"""Game state: the append-only points ledger and everything derived from or attached to it.

Scores, levels and leaderboards are *derived* from :class:`PointEvent`; every other table holds
player choices (teams, hunts, adoptions, identifications) or admin data (badges, quests, facts).
"""
from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.gis.db import models


class Rule(models.TextChoices):
    """Why points were awarded (the ``rule`` column of the ledger)."""

    RECORDING_ACCEPTED = "recording_accepted", "Recording accepted"
    NEW_SPECIES = "new_species", "New species for the player"
    NEW_CELL = "new_cell", "New area cell for the player"
    RARE_SPECIES = "rare_species", "Rare or sensitive species"
    RESEARCH_GRADE = "research_grade", "Observation reached research grade"
    IDENTIFICATION_AGREED = "identification_agreed", "Identification agreed by the community"
    QUIZ_ANSWER = "quiz_answer", "Correct quiz answer"
    QUEST_STEP = "quest_step", "Quest step"
    QUEST_COMPLETE = "quest_complete", "Quest completed"
    DAILY_STREAK = "daily_streak", "Daily recording streak"
    HUNT_FIND = "hunt_find", "Treasure hunt find"
    TIMETRAVEL_STEP = "timetravel_step", "Time travel waypoint"
    ADOPT_CHECKIN = "adopt_checkin", "Adopt-a-bird check-in"


class PointEvent(models.Model):
    """One award. Append-only; ``(player, rule, cause)`` is unique, so awarding is idempotent."""

    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="point_events")
    rule = models.CharField(max_length=32, choices=Rule.choices)
    cause = models.CharField(max_length=120, help_text="What produced it, e.g. 'obs:42'; one event per cause.")
    amount = models.IntegerField()
    observation = models.ForeignKey("observations.Observation", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    species_label = models.CharField(max_length=120, blank=True)
    cell = models.CharField(max_length=20, blank=True, help_text="H3 cell (res 7) of the observation, if any.")
    team_id = models.IntegerField(null=True, blank=True, help_text="The player's team when it was awarded.")
    tags = models.JSONField(default=list, blank=True, help_text="Facts badges count, e.g. ['dawn'].")
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["player", "rule", "cause"], name="point_event_one_per_cause")]
        indexes = [models.Index(fields=["player", "created_at"], name="point_event_player_time")]

    def __str__(self) -> str:
        return f"{self.player_id} +{self.amount} {self.rule} ({self.cause})"


class BadgeDefinition(models.Model):
    """A badge as data: ``metric`` compared with ``threshold`` (see badges.METRICS)."""

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=80)
    description = models.CharField(max_length=300)
    metric = models.CharField(max_length=40)
    threshold = models.PositiveIntegerField(default=1)
    params = models.JSONField(default=dict, blank=True, help_text="Metric parameters, e.g. {'quest': 'slug'}.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["metric", "threshold", "slug"]

    def __str__(self) -> str:
        return self.name


class PlayerBadge(models.Model):
    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="badges")
    badge = models.ForeignKey(BadgeDefinition, on_delete=models.CASCADE, related_name="holders")
    earned_at = models.DateTimeField()

    class Meta:
        ordering = ["earned_at", "id"]
        constraints = [models.UniqueConstraint(fields=["player", "badge"], name="player_badge_once")]


class Team(models.Model):
    name = models.CharField(max_length=60, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                   related_name="+")
    max_members = models.PositiveSmallIntegerField(default=8)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    """A player belongs to at most one team at a time."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    player = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_membership")
    joined_at = models.DateTimeField(auto_now_add=True)


class QuestMode(models.TextChoices):
    SOLO = "solo", "Solo"
    TEAM = "team", "Team (contributions are summed)"


class Quest(models.Model):
    """Created by admins: record ``target_count`` observations of the species inside ``area``
    between ``starts_at`` and ``ends_at``."""

    slug = models.SlugField(max_length=60, unique=True)
    title = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    species = models.ManyToManyField("species.Species", blank=True, related_name="quests",
                                     help_text="Empty: any species.")
    area = models.MultiPolygonField(srid=4326, null=True, blank=True, help_text="Empty: anywhere.")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    target_count = models.PositiveIntegerField(default=5)
    mode = models.CharField(max_length=8, choices=QuestMode.choices, default=QuestMode.SOLO)
    step_points = models.PositiveIntegerField(default=5)
    reward_points = models.PositiveIntegerField(default=50)
    reward_badge = models.ForeignKey(BadgeDefinition, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="quests")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["ends_at", "slug"]
        constraints = [models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")),
                                              name="quest_window_ordered")]

    def __str__(self) -> str:
        return self.title


class QuestProgress(models.Model):
    """Progress of one player (solo) or one team (team quest)."""

    quest = models.ForeignKey(Quest, on_delete=models.CASCADE, related_name="progress")
    player = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                               related_name="+")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    count = models.PositiveIntegerField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["quest", "player"], condition=models.Q(team__isnull=True),
                                    name="quest_progress_player"),
            models.UniqueConstraint(fields=["quest", "team"], condition=models.Q(team__isnull=False),
                                    name="quest_progress_team"),
        ]


class QuestContribution(models.Model):
    """One observation counted once towards one quest."""

    quest = models.ForeignKey(Quest, on_delete=models.CASCADE, related_name="contributions")
    observation = models.ForeignKey("observations.Observation", on_delete=models.CASCADE, related_name="+")
    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    progress = models.ForeignKey(QuestProgress, on_delete=models.CASCADE, related_name="contributions")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["quest", "observation"], name="quest_contribution_once")]


class PlayerFlag(models.Model):
    """Anti-cheat: something for a moderator to look at (impossible travel, ...)."""

    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="game_flags")
    reason = models.CharField(max_length=40)
    details = models.JSONField(default=dict)
    observation = models.ForeignKey("observations.Observation", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    resolved = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["reason", "observation"], name="player_flag_once")]


# --- community identification -----------------------------------------------------------------------

class IdKind(models.TextChoices):
    AGREE = "agree", "Agree with the current identification"
    SUGGEST = "suggest", "Suggest another species"


class Identification(models.Model):
    observation = models.ForeignKey("observations.Observation", on_delete=models.CASCADE,
                                    related_name="identifications")
    identifier = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="identifications")
    species = models.ForeignKey("species.Species", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=IdKind.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    withdrawn_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when the identifier withdrew it or replaced it with another species; "
                                         "a withdrawn identification stays in the history and no longer counts.")

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["observation", "identifier"],
                                               condition=models.Q(withdrawn_at__isnull=True),
                                               name="identification_current_once")]


class QualityMetric(models.TextChoices):
    DATE = "date", "Date is right"
    LOCATION = "location", "Location is right"
    WILD = "wild", "Wild bird (not captive, not playback)"
    AUDIBLE = "audible", "The species is audible"


class QualityVote(models.Model):
    """A data-quality vote: ``agrees`` False says the metric fails (wrong date, not wild, ...)."""

    observation = models.ForeignKey("observations.Observation", on_delete=models.CASCADE, related_name="quality_votes")
    voter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    metric = models.CharField(max_length=10, choices=QualityMetric.choices)
    agrees = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["observation", "voter", "metric"], name="quality_vote_once")]


# --- expert review ---------------------------------------------------------------------------------

class RecordingEmbedding(models.Model):
    """Backbone embedding of a recording's marked segment, cached per model version."""

    recording = models.ForeignKey("recordings.Recording", on_delete=models.CASCADE, related_name="+")
    model_version = models.CharField(max_length=64)
    vector = models.BinaryField()
    dim = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["recording", "model_version"], name="embedding_once")]


class ReviewLabel(models.Model):
    """A researcher's label, direct or propagated from the medoid of its cluster. It sets the observation's
    species; a direct one also makes it research grade (``grades.grade``). The row keeps what it replaced."""

    observation = models.OneToOneField("observations.Observation", on_delete=models.CASCADE,
                                       related_name="review_label")
    species = models.ForeignKey("species.Species", on_delete=models.PROTECT, related_name="+")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    propagated = models.BooleanField(default=False)
    propagated_from = models.ForeignKey("observations.Observation", null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    previous_species = models.ForeignKey("species.Species", null=True, blank=True, on_delete=models.PROTECT,
                                         related_name="+", help_text="The observation's species before this label.")
    previous_status = models.CharField(max_length=16, blank=True,
                                       help_text="The observation's grade before this label.")
    created_at = models.DateTimeField(auto_now_add=True)


class TaxonCause(models.TextChoices):
    COMMUNITY = "community", "The community taxon of the identifications"
    REVIEW = "review", "A researcher's review label"
    PROPAGATED = "propagated", "A review label propagated from its cluster's medoid"


class SpeciesChange(models.Model):
    """One change of an observation's species, append-only. The earliest row's ``previous_species`` is the
    observer's own claim (an observation without rows still has its claimed species)."""

    observation = models.ForeignKey("observations.Observation", on_delete=models.CASCADE,
                                    related_name="species_changes")
    previous_species = models.ForeignKey("species.Species", on_delete=models.PROTECT, related_name="+")
    species = models.ForeignKey("species.Species", on_delete=models.PROTECT, related_name="+")
    cause = models.CharField(max_length=12, choices=TaxonCause.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", help_text="The reviewer, or the identifier whose action moved it.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]


class ReviewClusterMember(models.Model):
    """The last queue computation: which medoid each unreviewed observation belongs to."""

    observation = models.OneToOneField("observations.Observation", on_delete=models.CASCADE, related_name="+")
    medoid = models.ForeignKey("observations.Observation", on_delete=models.CASCADE, related_name="+")
    cluster_size = models.PositiveIntegerField()
    computed_at = models.DateTimeField(auto_now=True)


# --- scenarios -------------------------------------------------------------------------------------

def new_token() -> str:
    return secrets.token_urlsafe(12)


class QuizSession(models.Model):
    id = models.CharField(primary_key=True, max_length=24, default=new_token, editable=False)
    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)


class QuizQuestion(models.Model):
    """One question; the correct species stays on the server until the answer."""

    id = models.CharField(primary_key=True, max_length=24, default=new_token, editable=False)
    session = models.ForeignKey(QuizSession, on_delete=models.CASCADE, related_name="questions")
    observation = models.ForeignKey("observations.Observation", on_delete=models.CASCADE, related_name="+")
    choices = models.JSONField(help_text="Four species labels, shuffled.")
    correct_choice = models.CharField(max_length=120)
    answer = models.CharField(max_length=120, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "observation"], name="quiz_no_repeat")]


class Hunt(models.Model):
    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    species = models.ForeignKey("species.Species", on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    min_spacing_m = models.FloatField(default=200.0)


class HuntFind(models.Model):
    hunt = models.ForeignKey(Hunt, on_delete=models.CASCADE, related_name="finds")
    observation = models.OneToOneField("observations.Observation", on_delete=models.CASCADE, related_name="+")
    location = models.PointField(srid=4326)
    created_at = models.DateTimeField(auto_now_add=True)


class TimeTravel(models.Model):
    """A player's journey along a species' past observations (waypoints frozen at the start)."""

    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    species = models.ForeignKey("species.Species", on_delete=models.PROTECT, related_name="+")
    waypoints = models.JSONField(help_text="Observation ids in time order.")
    step = models.PositiveSmallIntegerField(default=0, help_text="Waypoints unlocked so far.")
    last_point = models.PointField(srid=4326, null=True, blank=True)
    last_checkin_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["player", "species"], name="timetravel_once")]


class SpeciesFact(models.Model):
    """Adopt-a-bird: fact number ``order`` revealed on the ``order``-th day of a streak."""

    species = models.ForeignKey("species.Species", on_delete=models.CASCADE, related_name="facts")
    order = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=400)

    class Meta:
        ordering = ["species", "order"]
        constraints = [models.UniqueConstraint(fields=["species", "order"], name="species_fact_order")]


class Adoption(models.Model):
    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    species = models.ForeignKey("species.Species", on_delete=models.PROTECT, related_name="+")
    site = models.PointField(srid=4326)
    streak = models.PositiveIntegerField(default=0)
    best_streak = models.PositiveIntegerField(default=0)
    grace_used = models.BooleanField(default=False)
    last_checkin_day = models.DateField(null=True, blank=True)
    facts_revealed = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["player", "species"], name="adoption_once")]


class AdoptionCheckin(models.Model):
    adoption = models.ForeignKey(Adoption, on_delete=models.CASCADE, related_name="checkins")
    observation = models.OneToOneField("observations.Observation", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["adoption", "day"], name="adoption_checkin_daily")]
