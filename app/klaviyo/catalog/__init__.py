"""Catalog, category and coupon surfaces: store variants, categories and discounts in Klaviyo."""
