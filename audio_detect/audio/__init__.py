"""Audio input: decoding, resampling, speech activity, channel simulation, windowing."""
