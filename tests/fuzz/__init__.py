"""Property tests over every HTTP route with hostile input: no 5xx, no hang, the envelope."""
