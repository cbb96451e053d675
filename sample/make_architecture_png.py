"""Draw sample/milvus_architecture.png, the demo's architecture diagram (run: python sample/make_architecture_png.py)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 1400, 1000
LAYERS = [
    ("Access Layer", ["Proxy", "Load Balancer", "SDK Clients"], "#dbeafe"),
    ("Coordinator", ["Root Coordinator", "Query Coordinator", "Data Coordinator"], "#fef3c7"),
    ("Worker Nodes", ["Query Node", "Data Node", "Streaming Node"], "#dcfce7"),
    ("Storage", ["Object Storage", "Meta Storage etcd", "Log Broker"], "#fce7f3"),
]


def draw(path: Path) -> None:
    """Render the four layers of the Milvus architecture with one labelled box per component."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    pen = ImageDraw.Draw(image)
    title_font = ImageFont.load_default(size=44)
    layer_font = ImageFont.load_default(size=34)
    box_font = ImageFont.load_default(size=30)
    pen.text((WIDTH // 2, 50), "Milvus Architecture", fill="black", font=title_font, anchor="mm")
    top, layer_height = 110, 210
    for row, (layer, components, colour) in enumerate(LAYERS):
        y0 = top + row * layer_height
        pen.rectangle((40, y0, WIDTH - 40, y0 + layer_height - 30), outline="#334155", width=3, fill=colour)
        pen.text((70, y0 + 16), layer, fill="#0f172a", font=layer_font)
        box_width = (WIDTH - 160) // len(components)
        for col, name in enumerate(components):
            x0 = 80 + col * box_width
            box = (x0, y0 + 70, x0 + box_width - 40, y0 + layer_height - 50)
            pen.rectangle(box, outline="#1e293b", width=3, fill="white")
            pen.text(((box[0] + box[2]) // 2, (box[1] + box[3]) // 2), name, fill="black", font=box_font, anchor="mm")
        if row < len(LAYERS) - 1:
            x = WIDTH // 2
            pen.line((x, y0 + layer_height - 30, x, y0 + layer_height), fill="#334155", width=4)
    image.save(path)


if __name__ == "__main__":
    draw(Path(__file__).with_name("milvus_architecture.png"))
