"""Tables of the reviews app arrive with its issue."""
