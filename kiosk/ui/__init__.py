"""The kiosk's touch UI (Kivy).

``presenter`` and ``i18n`` are pure and import no Kivy; ``display`` decides, before Kivy loads,
whether there is a screen; ``window`` sets Kivy up and opens it; ``app`` is the Kivy app itself.
Nothing here decides checkout rules: the screens show the lane's state and post intents.
"""
