"""A small synthetic conversation set in LoCoMo's file schema, for tutorials, tests and smoke runs.

Two invented conversations (3 dated sessions each) with questions of LoCoMo's categories
(1 multi-hop, 2 temporal, 3 open-domain, 4 single-hop, 5 adversarial), reference answers and
evidence turn ids. Written from scratch (not derived from LoCoMo), so it ships with memlab;
:func:`write_sample` writes it where ``memlab bench`` (``--dataset locomo``) can read it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Union

_CONVERSATIONS = [
    ("sample-1", "Nadia", "Tom", [
        ("10:15 am on 3 March, 2024", [
            "Hi Tom! I finally signed up for the pottery class at the community centre.",
            "That's great, Nadia! Which day is it on?",
            "Tuesday evenings. My first bowl came out lopsided but I love it.",
            "Ha, lopsided bowls have character. I started training for the Lisbon half marathon.",
            "Wow, when is the race?",
            "It's in October. I run with my dog Pixel every morning now.",
        ]),
        ("6:40 pm on 21 April, 2024", [
            "Tom, guess what, my sister Lena is moving to Vienna for a job at a museum.",
            "Vienna is lovely! Are you going to visit her?",
            "Yes, I booked a train for the first week of June.",
            "Pixel hurt his paw last week, so I have been running alone.",
            "Oh no, poor Pixel. I hope he gets better soon.",
            "The vet says two more weeks of rest.",
        ]),
        ("9:05 am on 14 June, 2024", [
            "I'm back from Vienna! Lena showed me the museum where she restores old maps.",
            "Restoring maps sounds fascinating. Did you bring anything back?",
            "A tin of Sachertorte and a print of an old map of the Danube.",
            "Pixel is running again, we did ten kilometres on Sunday.",
            "That's a big step towards October.",
            "I also glazed my first teapot in pottery class, it's blue.",
        ]),
    ], [
        ("Which day is Nadia's pottery class?", "Tuesday evenings", ["D1:3"], 4),
        ("What race is Tom training for?", "the Lisbon half marathon", ["D1:4"], 4),
        ("What is the name of Tom's dog?", "Pixel", ["D1:6"], 4),
        ("Where did Nadia's sister move?", "Vienna", ["D2:1"], 4),
        ("When did Nadia visit her sister?", "the first week of June 2024", ["D2:3", "D3:1"], 2),
        ("What does Lena do at the museum where she works in Vienna?", "she restores old maps", ["D2:1", "D3:1"], 1),
        ("Why was Tom running alone in April?", "Pixel hurt his paw", ["D2:4"], 4),
        ("What colour is the teapot Nadia glazed?", "blue", ["D3:6"], 4),
        ("Which river is on the map print Nadia brought back?", "the Danube", ["D3:3"], 3),
        ("What did Tom bake in Vienna?", "", [], 5),
    ]),
    ("sample-2", "Ines", "Marco", [
        ("8:30 pm on 9 January, 2024", [
            "Marco, I adopted a cat from the shelter today. Her name is Biscuit.",
            "Congratulations Ines! What colour is she?",
            "Ginger with a white tail. She already sleeps on my keyboard.",
            "I'm learning Japanese before my trip to Osaka in May.",
            "How are the lessons going?",
            "Slowly, the kanji are hard but my teacher Mrs Sato is patient.",
        ]),
        ("1:20 pm on 18 February, 2024", [
            "I got promoted to head of the design team at work!",
            "Amazing news, Ines! You deserve it.",
            "Thanks! The first project is a new app for the city library.",
            "I passed my first Japanese exam with 82 points.",
            "Well done! Mrs Sato must be proud.",
            "She gave me a book of haiku as a reward.",
        ]),
        ("7:45 pm on 27 May, 2024", [
            "How was Osaka, Marco?",
            "Incredible. I ordered takoyaki in Japanese and the cook understood me.",
            "Ha! Biscuit knocked my plant off the shelf while you were away.",
            "Cats. Did the library app launch?",
            "Yes, last week. Ten thousand people downloaded it already.",
            "That's a huge success for your new team.",
        ]),
    ], [
        ("What is the name of Ines's cat?", "Biscuit", ["D1:1"], 4),
        ("What colour is Biscuit?", "ginger with a white tail", ["D1:3"], 4),
        ("Who teaches Marco Japanese?", "Mrs Sato", ["D1:6"], 4),
        ("What score did Marco get on his first Japanese exam?", "82 points", ["D2:4"], 4),
        ("When was Ines promoted?", "February 2024", ["D2:1"], 2),
        ("What did Ines's design team build first?", "an app for the city library", ["D2:3", "D3:5"], 1),
        ("What did Marco order in Osaka?", "takoyaki", ["D3:2"], 4),
        ("What reward did Mrs Sato give Marco?", "a book of haiku", ["D2:6"], 4),
        ("Which city did Marco travel to in May?", "Osaka", ["D1:4", "D3:1"], 3),
        ("What is the name of Marco's dog?", "", [], 5),
    ]),
]


def sample_locomo() -> list[dict]:
    """The sample as LoCoMo JSON (a list of samples with ``conversation`` and ``qa``)."""
    out = []
    for sid, a, b, sessions, qas in _CONVERSATIONS:
        conv: dict = {"speaker_a": a, "speaker_b": b}
        for s, (date, turns) in enumerate(sessions, 1):
            conv[f"session_{s}_date_time"] = date
            conv[f"session_{s}"] = [{"speaker": (a, b)[t % 2], "dia_id": f"D{s}:{t + 1}", "text": text}
                                    for t, text in enumerate(turns)]
        qa = []
        for question, answer, evidence, cat in qas:
            item = {"question": question, "evidence": evidence, "category": cat}
            item["adversarial_answer" if cat == 5 else "answer"] = answer or "not mentioned"
            qa.append(item)
        out.append({"sample_id": sid, "conversation": conv, "qa": qa})
    return out


def write_sample(path: Union[str, Path]) -> Path:
    """Write the sample to ``path`` (a ``.json`` file) and return the path."""
    path = Path(path)
    path.write_text(json.dumps(sample_locomo(), indent=1), encoding="utf-8")
    return path
