"""bench_posting.py's URLconf: the project's URLs and the DRF floor (`GET /bench/floor/`)."""

from django.urls import include, path
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from rewards.models import Tier


class FloorView(APIView):
    """Django + DRF's floor: the project's token authentication, one permission check and one small
    query, as minimal as an API view of this project can be. What no posting can go below."""

    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"tiers": Tier.objects.count()})


urlpatterns = [
    path("bench/floor/", FloorView.as_view()),
    path("", include("loyalty_crm.urls")),
]
