"""A PSP simulator: a small Flask app that speaks the Banco Central's API Pix like a receiving PSP (such as Efí).

The checkout creates charges (cob) here, shows their dynamic BR Code, and receives {"pix": [...]} on its webhook
when a charge is paid, over mutual TLS; a control API and a page make money arrive, late, twice or unannounced.
It imports nothing from the checkout. Run it with `python -m psp_simulator`.
"""
