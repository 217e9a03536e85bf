//! Plain OAuth 2.0 providers without OpenID Connect (GitHub). (Being written.)
