"""First-party plugin packs. Each module is registered through the ``neural_trader`` entry-point
group, exactly like a third-party pack."""
