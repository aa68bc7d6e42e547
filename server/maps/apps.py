from django.apps import AppConfig


class MapsConfig(AppConfig):
    name = "server.maps"
    label = "maps"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from server.observations.models import Observation
        from server.recordings.events import recording_analysed

        from . import receivers

        post_save.connect(receivers.on_observation_saved, sender=Observation, dispatch_uid="maps-obs-saved")
        post_delete.connect(receivers.on_observation_deleted, sender=Observation, dispatch_uid="maps-obs-deleted")
        recording_analysed.connect(receivers.on_recording_analysed, dispatch_uid="maps-recording-analysed")
