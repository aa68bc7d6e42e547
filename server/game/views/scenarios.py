"""The four scenarios: quiz, treasure hunt, time travel, adopt-a-bird."""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from server.common.errors import ApiError

from ..models import Adoption, Hunt, QuizQuestion
from ..scenarios import adopt, hunt, quiz, timetravel
from ..serializers import AdoptSerializer, AnswerSerializer, CheckinSerializer, HuntSerializer, PositionSerializer
from .common import awarding, body, clip_response, require_level, species_or_400


def question_json(request, question: QuizQuestion | None) -> dict | None:
    """What the client sees of a question: never the answer, nor the observation or species."""
    if question is None:
        return None
    url = reverse("game-quiz-audio", args=[question.session_id, question.pk], request=request)
    return {"id": question.pk, "audio_url": url, "choices": list(question.choices)}


class QuizStartView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_scope = "quiz"

    @extend_schema(request=None, responses={201: OpenApiTypes.OBJECT},
                   description="Start a quiz: {session, question: {id, audio_url, choices[4]}}.")
    def post(self, request):
        require_level(request.user, "quiz")
        session, question = quiz.start(request.user)
        return Response({"session": session.pk, "question": question_json(request, question)},
                        status=status.HTTP_201_CREATED)


class QuizAnswerView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=AnswerSerializer, responses={200: OpenApiTypes.OBJECT},
                   description="Answer once: {correct, correct_choice, points, next_question}. "
                               "Errors: already_answered (409), invalid_choice, not_found.")
    def post(self, request, session: str):
        data = body(AnswerSerializer, request)
        with awarding() as batch:
            result = quiz.answer(request.user, session, data["question"], data["choice"], batch)
        return Response({**result, "next_question": question_json(request, result["next_question"])})


class QuizAudioView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={(200, "audio/*"): OpenApiTypes.BINARY})
    def get(self, request, session: str, question: str):
        q = (QuizQuestion.objects.select_related("observation")
             .filter(pk=question, session_id=session, session__player=request.user).first())
        if q is None:
            raise ApiError("not_found", "No such question.", status.HTTP_404_NOT_FOUND)
        return clip_response(request, q.observation)


class HuntStartView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_scope = "game_write"

    @extend_schema(request=HuntSerializer, responses={201: OpenApiTypes.OBJECT},
                   description="Start a treasure hunt for a species (level 2). Finds ≥ 200 m apart score.")
    def post(self, request):
        require_level(request.user, "hunt")
        data = body(HuntSerializer, request)
        h = hunt.start(request.user, species_or_400(data["species"]), data["minutes"])
        return Response(hunt.summary(h), status=status.HTTP_201_CREATED)


class HuntDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: OpenApiTypes.OBJECT},
                   description="Score, finds, time left, and where others found the species (public positions).")
    def get(self, request, pk: int):
        h = Hunt.objects.select_related("species").filter(pk=pk, player=request.user).first()
        if h is None:
            raise ApiError("not_found", "No such hunt.", status.HTTP_404_NOT_FOUND)
        return Response(hunt.summary(h))


class TimeTravelView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: OpenApiTypes.OBJECT, 409: OpenApiResponse(description="no_route")},
                   description="The species' past observations as a route of waypoints (level 3).")
    def get(self, request, species_label: str):
        require_level(request.user, "timetravel")
        return Response(timetravel.describe(timetravel.get_or_start(request.user, species_or_400(species_label))))


class TimeTravelCheckinView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_scope = "game_write"

    @extend_schema(request=PositionSerializer, responses={200: OpenApiTypes.OBJECT},
                   description="Check in at the next waypoint. Errors: too_far, implausible_speed, route_completed.")
    def post(self, request, species_label: str):
        require_level(request.user, "timetravel")
        data = body(PositionSerializer, request)
        species = species_or_400(species_label)
        with awarding() as batch:
            result = timetravel.checkin(request.user, species, data["lat"], data["lng"], data["accuracy_m"], batch)
        return Response(result)


def adoption_json(a: Adoption) -> dict:
    return {"id": a.pk, "species": a.species.label, "site": {"lat": a.site.y, "lng": a.site.x},
            "streak": a.streak, "best_streak": a.best_streak, "grace_used": a.grace_used,
            "last_checkin_day": a.last_checkin_day, "facts": adopt.facts(a)}


class AdoptionListView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_scope = "game_write"

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response({"results": [adoption_json(a) for a in
                                     Adoption.objects.filter(player=request.user).select_related("species")]})

    @extend_schema(request=AdoptSerializer, responses={201: OpenApiTypes.OBJECT},
                   description="Adopt a species observed within 5 km of a site (level 4). "
                               "Errors: species_not_near, already_adopted.")
    def post(self, request):
        require_level(request.user, "adopt")
        data = body(AdoptSerializer, request)
        a = adopt.adopt(request.user, species_or_400(data["species"]), data["lat"], data["lng"])
        return Response(adoption_json(a), status=status.HTTP_201_CREATED)


class AdoptionCheckinView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=CheckinSerializer, responses={200: OpenApiTypes.OBJECT},
                   description="Check in with today's recording of the adopted species; reveals the next fact. "
                               "Errors: already_checked_in, wrong_species, recording_too_old, too_far_from_site.")
    def post(self, request, pk: int):
        require_level(request.user, "adopt")
        data = body(CheckinSerializer, request)
        with awarding() as batch:
            result = adopt.checkin(request.user, pk, data["observation"], batch)
        return Response(result)
