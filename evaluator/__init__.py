"""好差评: one-case-one-rating, 差评 follow-up, review reports, national export."""
