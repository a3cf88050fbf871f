"""Generate the ``assistant`` evaluation dataset (personal-assistant memories with relevance labels).

Run from the repository root::

    .venv/bin/python datasets/assistant/make_dataset.py

It writes ``datasets/assistant/assistant_memories.jsonl`` and the identical package copy
``memlab/evaluate/data/assistant_memories.jsonl`` (loaded by ``memlab.evaluate.load_bundled()``).
Everything comes from the templates below and ``random.Random(SEED)``: the output is byte-identical
on every run. See README.md beside this file for how the labels are defined.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import datetime, timedelta
from pathlib import Path

SEED = 20240611
HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
OUTPUTS = [HERE / "assistant_memories.jsonl", REPO / "memlab" / "evaluate" / "data" / "assistant_memories.jsonl"]

USERS = ["alice", "bruno", "chen", "dara", "emeka", "fatima", "gustav", "hana"]
CITIES = ["Lisbon", "Berlin", "Toronto", "Osaka", "Nairobi", "Melbourne", "Bogotá", "Edinburgh", "Seoul", "Lyon"]
JOBS = [("nurse", "St. Mary's Hospital"), ("data analyst", "a logistics startup"),
        ("high-school teacher", "Riverside Academy"),
        ("software engineer", "a fintech company"), ("architect", "a small design studio"),
        ("pharmacist", "the pharmacy on Main Street"), ("physiotherapist", "a sports clinic"),
        ("translator", "a publishing house"), ("chef", "an Italian restaurant"),
        ("accountant", "a mid-sized audit firm")]
PETS = [("dog", "Rex"), ("cat", "Miso"), ("dog", "Luna"), ("cat", "Pepper"), ("rabbit", "Clover"), ("parrot", "Kiwi")]
SIBLINGS = [("sister", "Ana"), ("brother", "Tom"), ("sister", "Mei"), ("brother", "Karim"), ("sister", "Ingrid")]
ALLERGIES = ["peanuts", "shellfish", "penicillin", "cats", "pollen", "gluten"]
DIETS = ["vegetarian", "vegan", "pescatarian", "trying to eat less sugar", "on a low-FODMAP diet"]
SPORTS = [("tennis", "Tuesday evenings"), ("badminton", "Thursdays"), ("swimming", "early mornings"),
          ("climbing", "weekends"), ("football", "Sunday mornings"), ("yoga", "Monday and Wednesday evenings")]
DRINKS = ["black coffee, no sugar", "oat-milk flat whites", "green tea", "chai with honey", "espresso after lunch"]
BANDS = ["Radiohead", "Fleetwood Mac", "BTS", "Fela Kuti", "Daft Punk", "Norah Jones", "Arctic Monkeys"]
BOOKS = ["Project Hail Mary", "The Overstory", "Pachinko", "Sapiens", "Klara and the Sun", "Middlemarch"]
TRIPS = [("Reykjavik", "a friend's wedding"), ("Marrakesh", "a holiday"), ("Singapore", "a conference"),
         ("Rome", "a long weekend"), ("Vancouver", "visiting family"), ("Cape Town", "a hiking trip")]
CARS = ["an old red Volvo", "a Toyota hybrid", "an electric Renault Zoe", "a Vespa scooter"]
NOISE = [
    "Remind me to buy batteries for the smoke alarm.", "I watched a documentary about octopuses last night.",
    "The weather has been awful all week.", "I need to renew my library card.",
    "Add olive oil and lemons to the shopping list.", "I finally fixed the squeaky door hinge.",
    "I'm thinking about repainting the living room.", "My laptop has been running slow lately.",
    "I tried a new ramen place downtown; it was fine.", "I should call the bank about a double charge.",
    "I started learning a few words of Portuguese.", "I ordered a new phone case online.",
    "The neighbours are having their kitchen renovated.", "I want to declutter the garage this month.",
    "I lost my umbrella on the tram again.", "I signed up for a pottery workshop.",
    "Please remind me to water the plants on Friday.", "I had a long meeting about budgets today.",
    "The train was delayed by forty minutes this morning.", "I'm saving up for a new bike.",
    "I keep forgetting my gym bag at home.", "I baked banana bread for the first time.",
    "The printer at work is broken again.", "I want to spend less time on my phone.",
    "I listened to a podcast about sleep hygiene.", "I need to return a parcel to the post office.",
    "My internet contract ends in two months.", "I cleaned out the fridge this weekend.",
    "I'm looking for a good winter jacket.", "We had a power cut in the building yesterday.",
    "I'm considering switching electricity providers.", "I prefer window seats on planes.",
    "I need to update my CV soon.", "The dentist sent me a reminder letter.",
    "I started journaling before bed.", "I got a parking ticket near the stadium.",
]


def facts_for(rng: random.Random, user: str) -> list[dict]:
    """Facts of one user: each has a category, memories (text, relevance) and questions."""
    city, old_city = rng.sample(CITIES, 2)
    job, employer = rng.choice(JOBS)
    facts = [
        {"category": "home", "memories": [(f"I moved to {city} in {rng.randint(2015, 2023)}.", 2),
                                          (f"My flat in {city} is a ten-minute walk from the old town.", 1),
                                          (f"Before that I lived in {old_city} for years.", 0)],
         "questions": ["Which city do I live in now?", "Where is my home these days?"]},
        {"category": "work", "memories": [(f"I work as a {job} at {employer}.", 2),
                                          (f"My shifts as a {job} start at {rng.choice(['7', '8', '9'])} am.", 1)],
         "questions": ["What do I do for a living?", "Where do I work?"]},
        {"category": "health", "memories": [(f"I am allergic to {rng.choice(ALLERGIES)}.", 2)],
         "questions": ["Do I have any allergies?", "Is there anything I'm allergic to?"]},
        {"category": "food", "memories": [(f"I am {rng.choice(DIETS)}.", 2),
                                          (f"For breakfast I usually have "
                                           f"{rng.choice(['porridge', 'toast', 'yoghurt'])}.", 1)],
         "questions": ["What are my dietary preferences?", "Which diet do I follow?"]},
        {"category": "preferences", "memories": [(f"I drink {rng.choice(DRINKS)}.", 2)],
         "questions": ["How do I take my coffee or tea?", "What do I like to drink?"]},
        {"category": "hobbies", "memories": [(f"I play {s} {d}.", 2) for s, d in [rng.choice(SPORTS)]]
         + [(f"My favourite band is {rng.choice(BANDS)}.", 0)],
         "questions": ["What sport do I do?", "When do I exercise during the week?"]},
        {"category": "leisure", "memories": [(f"I'm currently reading {rng.choice(BOOKS)}.", 2)],
         "questions": ["Which book am I reading at the moment?"]},
    ]
    if rng.random() < 0.6:
        kind, name = rng.choice(PETS)
        facts.append({"category": "pets", "memories": [(f"My {kind} is called {name}.", 2),
                                                       (f"{name} has a vet check-up next month.", 1)],
                      "questions": [f"What is my {kind}'s name?", "Do I have a pet?"]})
    else:
        facts.append({"category": "pets", "memories": [], "questions": ["What is my dog's name?",
                                                                         "What kind of pet do I have?"]})
    if rng.random() < 0.7:
        rel, name = rng.choice(SIBLINGS)
        where = rng.choice([c for c in CITIES if c != city])
        facts.append({"category": "family", "memories": [(f"My {rel} {name} lives in {where}.", 2),
                                                         (f"{name} and I video-call every Sunday.", 1)],
                      "questions": [f"Where does my {rel} live?", f"Who is {name}?"]})
    else:
        facts.append({"category": "family", "memories": [], "questions": ["Where does my brother live?"]})
    dest, why = rng.choice(TRIPS)
    day = datetime(2024, 7, 1) + timedelta(days=rng.randint(0, 120))
    appt = day - timedelta(days=rng.randint(5, 30))
    facts.append({"category": "schedule", "memories": [
        (f"I'm flying to {dest} on {day:%B} {day.day} for {why}.", 2),
        (f"I still need to book a hotel for the {dest} trip.", 1),
        (f"I have a dentist appointment on {appt:%A, %B} {appt.day}.", 0)],
        "questions": [f"When is my trip to {dest}?", "What travel plans do I have?"]})
    if rng.random() < 0.5:
        facts.append({"category": "transport", "memories": [(f"I drive {rng.choice(CARS)}.", 2)],
                      "questions": ["What car do I drive?"]})
    else:
        facts.append({"category": "transport", "memories": [("I don't own a car; I cycle everywhere.", 2)],
                      "questions": ["How do I get around town?"]})
    # questions nobody's memories can answer
    facts.append({"category": "health", "memories": [], "questions": ["What is my blood type?"]})
    facts.append({"category": "finance", "memories": [], "questions": ["How much rent do I pay each month?"]})
    return facts


def build() -> list[dict]:
    rng = random.Random(SEED)
    lines: list[dict] = [{"type": "dataset", "format": "memlab-eval", "version": 1, "name": "assistant",
                          "description": "Synthetic personal-assistant memories of 8 users with graded relevance "
                                         "labels and unanswerable questions (datasets/assistant/make_dataset.py)."}]
    mem_lines, query_lines = [], []
    for user in USERS:
        facts = facts_for(rng, user)
        items = [(f, text, grade) for f in facts for text, grade in f["memories"]]
        items += [(None, text, 0) for text in rng.sample(NOISE, rng.randint(18, 24))]
        rng.shuffle(items)
        start = datetime(2024, 1, 8, 9, 0)
        ids = {}
        for n, (fact, text, grade) in enumerate(items, start=1):
            mid = f"{user}-m{n:03d}"
            when = start + timedelta(days=rng.randint(0, 170), minutes=rng.randint(0, 600))
            meta = {"topic": fact["category"] if fact else "misc"}
            mem_lines.append({"type": "memory", "id": mid, "scope": user, "text": text,
                              "time": when.isoformat(), "metadata": meta})
            if fact is not None:
                ids.setdefault(id(fact), []).append((mid, grade))
        qn = 0
        for fact in facts:
            relevant = {mid: g for mid, g in ids.get(id(fact), []) if g > 0}
            for question in fact["questions"]:
                qn += 1
                query_lines.append({"type": "query", "id": f"{user}-q{qn:02d}", "scope": user, "text": question,
                                    "category": fact["category"], "answerable": bool(relevant),
                                    "relevant": relevant})
    return lines + mem_lines + query_lines


def main() -> int:
    lines = build()
    text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    for out in OUTPUTS:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    n_mem = sum(1 for x in lines if x["type"] == "memory")
    n_q = sum(1 for x in lines if x["type"] == "query")
    n_un = sum(1 for x in lines if x["type"] == "query" and not x["answerable"])
    print(f"wrote {n_mem} memories and {n_q} queries ({n_un} unanswerable) to {', '.join(map(str, OUTPUTS))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
