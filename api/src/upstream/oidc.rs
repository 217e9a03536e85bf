//! OpenID Connect relying party. (Being written.)
