"""The one-shot example of LLM-DMsRec's released system prompt (nsswtt/LLM-DMsRec, dataset/system_prompt.txt, after
Prompt 1's three requirements), for ``--dmsrec_one_shot true``. The paper's Prompt 1 has no example; the released
code shows this one Beauty session (3 clicks, 50 candidates, 2 intents) for both datasets, ML-1M included.

The items, candidates and answer are the released ones, character for character (HTML entities and double spaces
included); only the layout is ours: the input is shown as the JSON data object our user message carries
(``dmsrec_messages``) and the answer as the JSON object our system prompt asks for, so that the example and the real
turn have one format (the released example is plain text, like its input prompt).
"""

import json

CLICKS = [  # "name_id", as in Prompt 2
    "Olay Regenerist 14-Day Skin Intervention_2802",
    "Max Factor Panstik Foundation - 13 Nouveau Beige_3961",
    "Olay Professional Pro-X Deep Wrinkle Treatment Anti Aging 1.0 Fl Oz_4048",
]
CANDIDATES = [
    "Olay Regenerist 14-Day Skin Intervention", "Max Factor Panstik Foundation - 13 Nouveau Beige",
    "MoroccanOil Hydrating Styling Cream, 10.2-Ounce Bottle", "Olay Definity 14-Day Skin Rehabilitation",
    "Shiseido Tsubaki Damage Care Hair Conditioner Pump - 550ml",
    "Garnier Skin Renew Anti-Dark Circle Eye Roller, 0.50-Fluid Ounce", "Avon Anew Genics Treatment Concentrates",
    "Olay Professional Pro-X Deep Wrinkle Treatment Anti Aging 1.0 Fl Oz", "Hempz Body Butter, 1.5 Ounce",
    "Paul Mitchell The Detangler 33.8 Ounces", "Olay Regenerist Anti-Aging Lip Treatment 0.06 Ounce",
    "Buffering Lotion", "Olay Definity Pore Redefining Scrub, 5-Fluid Ounce (150 ml) (Pack of 2)",
    "Trim Pink/Fine Salon Board Drum (Pack of 48)", "Healing Strength Neem Plant Silk Serum by L'anza, 3.4 Ounce",
    "Mario Badescu Control Cream (0.50 oz)", "Doo Gro Mega Thick Growth Oil, 4.5 Ounce",
    "Moroccanoil Hair Treatment (.85oz)", "Palmer's Olive Oil Formula Hair and Scalp Oil, 5.1 Fluid Ounce (Pack of 2)",
    "Schwarzkopf Bonacure Repair Sealed Ends (2.6 oz)  Colors may vary",
    "Carol's Daughter, Lisa's Hair Elixir, 8 Ounce", "Almay Smart Shade Blush, Pink 010, 0.5-Ounce Tubes (Pack of 2)",
    "Gillette Venus Spa Breeze Razor", "Mario Badescu Skin Care Seaweed Night Cream, 1.0 Ounce",
    "AlfaParf Semi Di Lino Diamante Cristalli Liquidi Illuminating Serum 1.69 fl oz (50 ml)",
    "Healthy Infusions by Wahl Pro Dryer", "Neutrogena Ageless Essentials Continuous Hydration, Night, 1.7 Ounce",
    "Olay Professional Pro-X Anti-Aging Starter Kit", "Glo Minerals GloPressed Base Beige Dark 0.35oz",
    "Topix Pharm SPF 40 Citrix Antioxidant Sunscreen, 3.5 Fluid Ounce",
    "Aveeno Active Naturals Positively Radiant Cleansing Pads, 28-Count Pads (Pack of 3)",
    "Moroccanoil Curl Control Mousse, 5.1 oz", "Olay Professional Pro-X Discoloration Fighting Concentrate, 0.4 Ounce",
    "Prevage MD Anti-Aging Treatment 30ml 1 Fluid Ounce", "The Wet Brush 2 Pack! Blue &amp; Pink, Value Pack!",
    "Yes To Carrots Body Butter, Super Rich, Nourishing, 8.45 Ounce Tubs (Pack of 2)",
    "Aveeno Ultra-Calming Moisturizing Cream Cleanser, 5-Ounce Tubes  (Pack of 3)",
    "Euphoria Blossom by Calvin Klein for Women - 3.4 Ounce EDT Spray",
    "PAUL MITCHELL Super Skinny Daily Shampoo &amp; Daily Treatment 33.8 oz", "LATHER Natural Sea Wool Sponge 1 oz.",
    "Amir Argan Oil Moisturizer - 18 oz",
    "#52101 Black All Night Waterproof Liquid Eyeliner Smudge Proof Cosmetics Makeup",
    "CeraVe Moisturizing Cream 16 oz (453 g)", "Revlon Pedi-Expert (Pack of 2)",
    "Ojon Damage Reverse&#153; Restorative Hair Treatment Plus 1.5 oz",
    "Eye Zone Lifting Massager. Micro-mini Current. Battery Operated.",
    "Olay Regenerist Deep Hydration Regenerating Cream Facial Moisturirzer 1.7 Fl Oz",
    "Noxzema Deep Cleansing Cream, Original, 14-Ounce Jars (Pack of 4)",
    "Irene Gari Fill In Powder, Dark Brown, 0.24 Ounce", "Jane Carter Solution Wrap and Roll, 8 Oz.",
]
ANSWER = "MoroccanOil Hydrating Styling Cream, 10.2-Ounce Bottle; Olay Definity 14-Day Skin Rehabilitation"


def one_shot_text():
    """The example block appended to the system prompt: ``Example:``, the input as our data object, the output."""
    data = json.dumps({"clicked_items_in_order": CLICKS, "candidate_item_set": CANDIDATES}, ensure_ascii=False,
                      indent=1)
    return f"\n\nExample:\nInput:\nData (JSON):\n{data}\nOutput:\n{json.dumps({'intents': ANSWER})}"
