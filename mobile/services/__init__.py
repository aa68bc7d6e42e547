"""Device services behind small interfaces (microphone, location, compass, audio out, storage).

:mod:`mobile.services.base` defines the interfaces; the other modules hold the Android
(plyer), desktop and test implementations; :func:`mobile.services.factory.default_services`
picks them for the platform.
"""
