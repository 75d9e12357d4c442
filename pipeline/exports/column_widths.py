"""Column widths of a table sheet, by xlsxwriter's autofit rule, from the frame rather than the cells.

`Worksheet.autofit` walks every written cell and measures every string character by character:
at 100,000 accounts that was 15 s of a 50 s workbook (407,000 strings). The rule is the same here,
applied per column to what decides the maximum:
- text: the pixel width of its widest line (xlsxwriter.utility.xl_pixel_width, 3-13 px a
  character); the longest distinct strings are measured first, and measuring stops once no shorter
  string could be wider or the width reached the cap;
- numbers: 7 px a character of `str(value)` (formula cells: only values above 0 count);
- dates: the sheet's default date width; booleans: 31 px (TRUE) or 36 px (FALSE);
- the header: its pixel width + 16 px for the filter button;
then + 7 px of padding, at most `max_width` px. Empty and missing cells count for nothing.
"""

from __future__ import annotations

import polars as pl
from xlsxwriter.utility import CHAR_WIDTHS, xl_pixel_width

FILTER_BUTTON_PX, PADDING_PX, DIGIT_PX = 16, 7, 7
TRUE_PX, FALSE_PX = 31, 36
WIDEST_CHAR_PX = max(*CHAR_WIDTHS.values(), 8)  # 8: any character the table does not list


def _text_px(text: str) -> int:
    return max(xl_pixel_width(line) for line in text.split("\n"))


def _widest_text_px(values: pl.Series, stop_at: int) -> int:
    """The widest of the distinct strings, measuring from the longest down."""
    texts = values.drop_nulls().unique()
    texts = texts.filter(texts != "")
    by_length = pl.DataFrame({"text": texts, "chars": texts.str.len_chars()}).sort("chars", descending=True)
    widest = 0
    for text, chars in by_length.iter_rows():
        if chars * WIDEST_CHAR_PX <= widest or widest >= stop_at:
            break
        widest = max(widest, _text_px(text))
    return widest


def _widest_value_px(values: pl.Series, stop_at: int, date_px: int, formula: bool) -> int:
    dtype = values.dtype
    if dtype == pl.String:
        return _widest_text_px(values, stop_at)
    if dtype.is_temporal():
        return date_px if values.null_count() < len(values) else 0
    if dtype == pl.Boolean:
        return max([TRUE_PX if value else FALSE_PX for value in values.drop_nulls().unique().to_list()], default=0)
    if dtype.is_numeric():
        numbers = values.drop_nulls().drop_nans() if dtype.is_float() else values.drop_nulls()
        if formula:
            numbers = numbers.filter(numbers > 0)
        return DIGIT_PX * max(map(len, map(str, numbers.unique().to_list())), default=0)
    return 0


def column_widths_px(frame: pl.DataFrame, headers: list[str], max_width: int, date_px: int,
                     formula_columns: frozenset[str] = frozenset()) -> list[int]:
    """Per column of `frame` (written under `headers`, none empty), the width autofit would give it
    in pixels."""
    widths = []
    for name, title in zip(frame.columns, headers, strict=True):
        content = max(xl_pixel_width(title) + FILTER_BUTTON_PX,
                      _widest_value_px(frame[name], max_width - PADDING_PX, date_px, name in formula_columns))
        widths.append(min(content + PADDING_PX, max_width))
    return widths
