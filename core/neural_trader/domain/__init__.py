"""attrs value types shared by plugins and services (market, orders, portfolio, risk, sports...)."""
