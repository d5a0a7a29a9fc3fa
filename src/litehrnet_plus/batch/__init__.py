"""Running the landmarker over many inputs for the `predict` and `monitor` commands: folders,
videos and webcams in; overlays, annotated videos and streamed results out, nothing lost on an
interruption. Stages such as the driver monitor plug in from above (`FrameStage`)."""
