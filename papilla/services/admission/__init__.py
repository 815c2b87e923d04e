"""Admission: the centre's gate for sealed packets and requests (open, check sender and law, record, hand on).

It sits between the wire and the services: it calls extraction (templates) and the lifecycle's
consent, retention and transfer rules, so neither of those imports the other.
"""
