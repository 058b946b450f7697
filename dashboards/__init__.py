"""The Panel screening dashboard: state in dashboards.screening, views in dashboards.app."""
