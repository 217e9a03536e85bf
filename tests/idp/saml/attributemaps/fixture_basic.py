# pysaml2 attribute map used by the fixture IdP (and by selftest.py's SP):
# the three attributes go out under their plain names with
# NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic".
# pysaml2 looks "to" keys up lower-cased and "fro" keys by the lower-cased Name.
MAP = {
    "identifier": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
    "to": {
        "email": "email",
        "displayname": "displayName",
        "groups": "groups",
    },
    "fro": {
        "email": "email",
        "displayname": "displayName",
        "groups": "groups",
    },
}
