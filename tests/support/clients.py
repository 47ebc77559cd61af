"""What the client scripts (hf_client.py, vllm_client.py) share.

Importing this module makes ``import int8q`` fail in the importing process:
a client proves that an engine loads what int8q wrote without int8q's help,
so it imports this first, before the engine.
"""

import importlib.abc
import sys


class _NoInt8q(importlib.abc.MetaPathFinder):
    """Make ``import int8q`` fail here: the clients must not need it."""

    def find_spec(self, name, path=None, target=None):
        if name == "int8q" or name.startswith("int8q."):
            raise ImportError(f"{name} is blocked in the client process")
        return None


sys.meta_path.insert(0, _NoInt8q())

SENTENCES = [
    "The cat sits on the mat.",
    "A man is playing a guitar on stage.",
    "Quantization maps floating point weights to small integers.",
    "hello world",
    "Where is the nearest train station?",
    "The stock market fell sharply after the announcement.",
    "She baked a chocolate cake for her brother's birthday.",
    "Photosynthesis converts light energy into chemical energy.",
    "I can't believe it's already December.",
    "The committee will meet again next Tuesday to discuss the budget.",
    "Rain is expected tomorrow in the northern regions.",
    "He forgot his umbrella at the restaurant.",
    "Neural networks are trained with gradient descent.",
    "What time does the museum open on Sundays?",
    "The quick brown fox jumps over the lazy dog.",
    "Our team won the championship after a difficult season.",
    "Please restart the server before applying the update.",
    "The river flooded the village during the storm.",
    "Coffee or tea?",
    "Mount Everest is the highest mountain above sea level.",
    "The children built a sandcastle on the beach.",
    "This recipe needs two cups of flour and one egg.",
    "Lost: a small black dog answering to the name of Max.",
    "The violinist performed Bach's partitas from memory.",
    "Interest rates are likely to rise later this year.",
    "A sentence embedding represents the meaning of a text as a vector.",
    "The spacecraft entered orbit around Jupiter.",
    "Please turn off your phones during the performance.",
    "My grandmother grows tomatoes in her garden every summer.",
    "Translation quality has improved a lot in recent years.",
    "The library is closed for renovation until March.",
    "Two plus two equals four.",
    "An apple a day keeps the doctor away.",
    "The defendant pleaded not guilty to all charges.",
    "Let's meet at the corner café at noon.",
    "Volcanic eruptions can affect the global climate for years.",
]
