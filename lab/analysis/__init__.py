"""Reading finished runs: `compare` (runs side by side) and the collapse monitor (`check`)."""
