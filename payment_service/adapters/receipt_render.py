"""Printing a receipt: a self-contained HTML page, or an A5 PDF with fpdf2.

HTML escapes every value. The PDF uses DejaVu Sans when the system has it
(any script a borrower's name is written in); otherwise fpdf2's built-in
Helvetica, which covers Latin-1, with other characters replaced.
"""

from __future__ import annotations

import html
from pathlib import Path

from payment_service.domain.receipt import ReceiptView

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
)

_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; color: #111; margin: 0; }
.receipt { max-width: 32rem; margin: 1.5rem auto; padding: 1.5rem 2rem;
  border: 1px solid #999; position: relative; }
h1 { font-size: 1.3rem; margin: 0 0 .2rem; }
.inst { color: #444; font-size: .85rem; margin-bottom: 1rem; }
h2 { font-size: 1.05rem; border-bottom: 2px solid #111; padding-bottom: .3rem; }
table { width: 100%; border-collapse: collapse; margin: .6rem 0; }
th { text-align: left; font-weight: normal; color: #444; width: 45%; padding: .2rem 0; }
td { padding: .2rem 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.amount { font-size: 1.6rem; font-weight: bold; text-align: center; margin: 1rem 0; }
tr.total td, tr.total th { border-top: 1px solid #111; font-weight: bold; color: #111; }
.reversed { border: 3px solid #b00; color: #b00; font-weight: bold; padding: .5rem;
  text-align: center; margin: 1rem 0; }
.footer { font-size: .8rem; color: #444; margin-top: 1.2rem; }
@media print { .receipt { border: none; margin: 0; } }
"""


def render_html(view: ReceiptView) -> bytes:
    e = html.escape
    inst = view.institution
    contact = " · ".join(e(x) for x in (inst.address, inst.phone) if x)
    details = "\n".join(
        f"<tr><th>{e(label)}</th><td>{e(value)}</td></tr>" for label, value in view.details
    )
    split = "\n".join(
        f'<tr{" class=total" if label == "Total" else ""}><th>{e(label)}</th>'
        f'<td class="num">{e(value)}</td></tr>'
        for label, value in view.allocation
    )
    notice = ""
    if view.reversal_notice:
        notice = f'<div class="reversed">{e(view.reversal_notice)}</div>'
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Receipt {e(view.receipt_number)}</title>
<style>{_CSS}</style>
</head>
<body>
<div class="receipt">
<h1>{e(inst.name)}</h1>
<div class="inst">{contact}</div>
<h2>{e(view.title)} {e(view.receipt_number)}</h2>
{notice}
<div class="amount">{e(view.amount)}</div>
<table>
{details}
</table>
<h2>Applied to</h2>
<table>
{split}
</table>
<p class="footer">{e(view.footer)}</p>
</div>
</body>
</html>
"""
    return page.encode("utf-8")


def _font_path() -> Path | None:
    for candidate in FONT_CANDIDATES:
        if candidate.is_file():
            return candidate
    return None


def render_pdf(view: ReceiptView) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format=(148, 210))  # A5 in mm
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.set_title(f"Receipt {view.receipt_number}")
    pdf.set_creator("microfinance payment_service")
    font_file = _font_path()
    if font_file is not None:
        pdf.add_font("Receipt", "", str(font_file))
        family = "Receipt"

        def text(value: str) -> str:
            return value
    else:
        family = "Helvetica"

        def text(value: str) -> str:
            return value.encode("latin-1", "replace").decode("latin-1")

    pdf.add_page()
    width = pdf.epw
    pdf.set_font(family, size=15)
    pdf.multi_cell(width, 7, text(view.institution.name), new_x="LMARGIN", new_y="NEXT")
    contact = " · ".join(x for x in (view.institution.address, view.institution.phone) if x)
    if contact:
        pdf.set_font(family, size=8)
        pdf.multi_cell(width, 4, text(contact), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font(family, size=11)
    pdf.cell(width, 6, text(f"{view.title} {view.receipt_number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
    pdf.ln(2)
    if view.reversal_notice:
        pdf.set_text_color(170, 0, 0)
        pdf.set_font(family, size=10)
        pdf.multi_cell(width, 5, text(view.reversal_notice), border=1, align="C")
        pdf.set_text_color(0, 0, 0)
        pdf.ln(2)
    pdf.set_font(family, size=18)
    pdf.cell(width, 12, text(view.amount), align="C", new_x="LMARGIN", new_y="NEXT")
    label_w = width * 0.42

    def row(label: str, value: str, *, right: bool = False) -> None:
        pdf.set_font(family, size=9)
        y = pdf.get_y()
        pdf.multi_cell(label_w, 5, text(label))
        below_label = pdf.get_y()
        pdf.set_xy(pdf.l_margin + label_w, y)
        pdf.multi_cell(width - label_w, 5, text(value), align="R" if right else "L")
        pdf.set_xy(pdf.l_margin, max(below_label, pdf.get_y()))

    for label, value in view.details:
        row(label, value)
    pdf.ln(3)
    pdf.set_font(family, size=11)
    pdf.cell(width, 6, text("Applied to"), new_x="LMARGIN", new_y="NEXT")
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
    pdf.ln(1)
    for label, value in view.allocation:
        if label == "Total":
            pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
        row(label, value, right=True)
    pdf.ln(4)
    pdf.set_font(family, size=8)
    pdf.multi_cell(width, 4, text(view.footer))
    return bytes(pdf.output())
