"""kaltimnews: East Kalimantan news sites crawled into clean, dated article records."""

__version__ = "0.1.0"
