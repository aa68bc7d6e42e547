"""API routes of the game app, mounted under /api/v1/."""
from django.urls import path

from .views import area, community, play, scenarios

urlpatterns = [
    path("game/profile/", play.ProfileView.as_view(), name="game-profile"),
    path("game/area/", area.AreaView.as_view(), name="game-area"),
    path("game/leaderboards/<str:board>/", play.LeaderboardView.as_view(), name="game-leaderboard"),
    path("game/quests/", play.QuestListView.as_view(), name="game-quests"),
    path("game/quests/<int:pk>/contribute/", play.QuestContributeView.as_view(), name="game-quest-contribute"),
    path("game/teams/", play.TeamListView.as_view(), name="game-teams"),
    path("game/teams/<int:pk>/join/", play.TeamJoinView.as_view(), name="game-team-join"),
    path("game/teams/<int:pk>/leave/", play.TeamLeaveView.as_view(), name="game-team-leave"),
    path("game/quiz/", scenarios.QuizStartView.as_view(), name="game-quiz"),
    path("game/quiz/<str:session>/answer/", scenarios.QuizAnswerView.as_view(), name="game-quiz-answer"),
    path("game/quiz/<str:session>/questions/<str:question>/audio/", scenarios.QuizAudioView.as_view(),
         name="game-quiz-audio"),
    path("game/hunts/", scenarios.HuntStartView.as_view(), name="game-hunts"),
    path("game/hunts/<int:pk>/", scenarios.HuntDetailView.as_view(), name="game-hunt"),
    path("game/timetravel/<str:species_label>/", scenarios.TimeTravelView.as_view(), name="game-timetravel"),
    path("game/timetravel/<str:species_label>/checkin/", scenarios.TimeTravelCheckinView.as_view(),
         name="game-timetravel-checkin"),
    path("game/adoptions/", scenarios.AdoptionListView.as_view(), name="game-adoptions"),
    path("game/adoptions/<int:pk>/checkin/", scenarios.AdoptionCheckinView.as_view(), name="game-adoption-checkin"),
    path("game/identify/", community.IdentifyQueueView.as_view(), name="game-identify"),
    path("game/identify/<int:pk>/audio/", community.IdentifyAudioView.as_view(), name="game-identify-audio"),
    path("observations/<int:pk>/identifications/", community.IdentificationsView.as_view(),
         name="observation-identifications"),
    path("observations/<int:pk>/quality/", community.QualityVoteView.as_view(), name="observation-quality"),
    path("review/queue/", community.ReviewQueueView.as_view(), name="review-queue"),
    path("review/labels/", community.ReviewLabelView.as_view(), name="review-labels"),
    path("review/observations/<int:pk>/spectrogram.png", community.ReviewSpectrogramView.as_view(),
         name="review-spectrogram"),
]
