"""The AfterShip Tracking API (version 2024-04) as the carrier source."""
