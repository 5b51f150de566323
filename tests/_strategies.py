"""Hypothesis strategies shared by the codec tests."""

from __future__ import annotations

from hypothesis import strategies as st

# XML 1.0 "Char": #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
XML_CHAR = st.one_of(
    st.characters(min_codepoint=0x20, max_codepoint=0xD7FF),
    st.characters(min_codepoint=0xE000, max_codepoint=0xFFFD),
    st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF),
    st.sampled_from("\t\n\r"),
)
# Pieces that break naive XML writers, mixed in far more often than chance would.
TRICKY = st.sampled_from(
    ["]]>", "<", ">", "&", "&amp;", '"', "'", "\r\n", "\r", "<![CDATA[", "]]", "中文簡訊",
     "שלום", "😀", "👩‍👩‍👧", "< NAME>", "</ SMS >", "\t", " "]
)  # fmt: skip
XML_TEXT = st.lists(st.one_of(XML_CHAR, TRICKY), max_size=40).map("".join)
NOT_XML_CHAR = st.one_of(
    st.sampled_from(["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1f", "\ufffe", "\uffff"]),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),  # lone surrogates
)
