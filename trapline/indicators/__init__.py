"""What an indicator is: kinds, detection, refanging and canonical forms.

    >>> normalize("hxxps://WWW.Evil[.]example:443/a/../B?X=1#f")
    Indicator(kind=<Kind.URL: 'url'>, value='evil.example/b?x=1')

Nothing here does I/O; the index and every face call these functions so that
feeds and observations meet on one spelling.
"""

from trapline.indicators.errors import InvalidIndicator
from trapline.indicators.kinds import HASH_KINDS, IP_KINDS, Indicator, Kind
from trapline.indicators.masks import MaskShape, canonical_mask
from trapline.indicators.normalize import detect_kind, normalize
from trapline.indicators.refang import refang
from trapline.indicators.url import CanonicalURL, canonical_url

__all__ = [
    "HASH_KINDS",
    "IP_KINDS",
    "CanonicalURL",
    "Indicator",
    "InvalidIndicator",
    "Kind",
    "MaskShape",
    "canonical_mask",
    "canonical_url",
    "detect_kind",
    "normalize",
    "refang",
]
