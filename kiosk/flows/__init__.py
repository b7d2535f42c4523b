"""Pure checkout flows: events in, new state plus effects out. No Kivy, paho, serial or cv2 here."""
