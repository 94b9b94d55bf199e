"""Layer 4: leader-elected controllers and the scheduler, level-triggered, on the API client."""
