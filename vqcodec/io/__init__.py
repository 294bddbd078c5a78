"""The image and file side: reading images, writing outputs atomically, the Pillow plugin."""
