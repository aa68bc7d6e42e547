from django.apps import AppConfig


class MapsConfig(AppConfig):
    name = "server.maps"
    label = "maps"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from server.recordings.events import recording_analysed

        from . import receivers

        # a lazy sender: maps never imports the observations' models
        post_save.connect(receivers.on_observation_saved, sender="observations.Observation",
                          dispatch_uid="maps-obs-saved")
        post_delete.connect(receivers.on_observation_deleted, sender="observations.Observation",
                            dispatch_uid="maps-obs-deleted")
        recording_analysed.connect(receivers.on_recording_analysed, dispatch_uid="maps-recording-analysed")
