"""Built-in synthetic reference data: a family roster, a library catalogue and the library's readers
(deterministic from a seed).

Used when ``papier kit build`` gets no ``--roster`` / ``--catalog``, by the demo (as the "restored backup"),
and by tests. Nothing here is real: names are drawn from common French first names and surnames.

- ``sample_roster()``: 700 families, dicts ``{"nom", "prenom", "numero_famille"}``; the family number is
  4 digits (1000–9999) followed by a Luhn check digit (5 digits in all).
- ``sample_catalog()``: a few thousand documents, dicts ``{"code_barres", "cote", "titre", "support"}``; the
  barcode is a valid EAN-13 (978/979 for books and comics, 977 for magazines, French 3xx prefixes for CDs,
  DVDs and games).
- ``sample_readers()``: 1,200 library readers, dicts ``{"nom", "prenom", "numero_carte"}``, sorted by name; the
  card number is 10 digits, the library's prefix ``20431`` then a sequence number: cards are handed out in order,
  so the readers still active hold 1,200 of the first 5,000 numbers (a dense set: a misread last digit is often
  another reader's card, which is what the reader's known-set rule must survive).
"""

from __future__ import annotations

import csv
import io
import random
from functools import lru_cache
from pathlib import Path

from papier.checks import ean13_check_digit, luhn_check_digit

DEFAULT_SEED = 2020
N_FAMILIES = 700
N_DOCUMENTS = 3000
N_READERS = 1200
READER_CARD_PREFIX = "20431"   # 5 digits, then a 5-digit sequence number: 10 digits, the loan register's boxes
READER_CARDS_ISSUED = 5000     # card numbers handed out so far (sequence 1..5000); active readers are a subset

SURNAMES = (
    "Martin Bernard Thomas Petit Robert Richard Durand Dubois Moreau Laurent Simon Michel Lefebvre Leroy Roux "
    "David Bertrand Morel Fournier Girard Bonnet Dupont Lambert Fontaine Rousseau Vincent Muller Lefèvre Faure "
    "André Mercier Blanc Guérin Boyer Garnier Chevalier François Legrand Gauthier Garcia Perrin Robin Clément "
    "Morin Nicolas Henry Roussel Mathieu Gautier Masson Marchand Duval Denis Dumont Marie Lemaire Noël Meyer "
    "Dufour Meunier Brun Blanchard Giraud Joly Rivière Lucas Brunet Gaillard Barbier Arnaud Martinez Gérard "
    "Roche Renard Schmitt Roy Leroux Colin Vidal Caron Picard Roger Fabre Aubert Lemoine Renaud Dumas Lacroix "
    "Olivier Philippe Bourgeois Pierre Benoît Rey Leclerc Payet Rolland Leclercq Guillaume Lecomte Lopez Jean "
    "Dupuy Guillot Hubert Berger Carpentier Sanchez Dupuis Moulin Louis Deschamps Huet Vasseur Perez Boucher "
    "Fleury Royer Klein Jacquet Adam Paris Poirier Marty Aubry Guyot Carré Charles Renault Charpentier Ménard "
    "Maillard Baron Bertin Bailly Hervé Schneider Fernandez Le Gall Collet Léger Bouvier Julien Prévost Millet "
    "Perrot Daniel Le Roux Cousin Germain Breton Besson Langlois Rémy Le Goff Pelletier Lévêque Perrier Leblanc "
    "Barré Lebrun Marchal Weber Mallet Hamon Boulanger Jacob Monnier Michaud Rodriguez Guichard Gillet Étienne "
    "Grondin Poulain Tessier Chevallier Collin Chauvin Da Silva Bouchet Gay Lemaître Bénard Maréchal Humbert "
    "Reynaud Antoine Hoarau Perret Barthélemy Cordier Pichon Lejeune Gilbert Lamy Delaunay Pasquier Carlier "
    "Laporte Dupré Devaux Lemaire Bouquet Lefort Delmas Hamel Cuvelier Wattier Dhainaut Lesage Vandamme"
).split(" ")
# Multi-word surnames were split above: glue the particles back.
_PARTICLES = {"Le", "Da"}


def _surnames() -> tuple[str, ...]:
    out: list[str] = []
    glue = ""
    for w in SURNAMES:
        if w in _PARTICLES:
            glue = w + " "
            continue
        out.append(glue + w)
        glue = ""
    return tuple(dict.fromkeys(out))


FIRST_NAMES = (
    "Marie Nathalie Isabelle Sylvie Catherine Sandrine Céline Stéphanie Aurélie Émilie Julie Camille Sarah "
    "Laura Manon Chloé Léa Inès Sophie Valérie Christine Hélène Anne Claire Élodie Audrey Mélanie Virginie "
    "Caroline Laetitia Amandine Karine Fatima Aïcha Nadia Samia Yasmina Ophélie Coralie Jessica Pauline "
    "Jean Pierre Michel Philippe Alain Nicolas Christophe Patrick Laurent Frédéric Sébastien Stéphane David "
    "Julien Olivier Éric Thierry Pascal Franck Jérôme Guillaume Vincent Cédric Mathieu Romain Antoine Thomas "
    "Kévin Jonathan Mickaël Grégory Fabrice Ludovic Anthony Mohamed Karim Rachid Mehdi Yannick Benoît Hervé "
    "Jean-Luc Jean-François Marie-Christine Anne-Sophie Marc-Antoine"
).split(" ")

# --- catalogue vocabulary ------------------------------------------------------------------------------------------
_NOUNS_M = ("jardin", "voyage", "secret", "silence", "chemin", "château", "loup", "rivage", "hiver", "été",
            "village", "phare", "dragon", "marché", "train", "fleuve", "monde", "royaume", "temps", "cahier")
_NOUNS_F = ("maison", "nuit", "mer", "forêt", "montagne", "lettre", "rivière", "route", "guerre", "île",
            "cuisine", "mémoire", "ville", "saison", "lumière", "histoire", "chanson", "frontière", "étoile")
_ADJ_M = ("perdu", "oublié", "noir", "blanc", "grand", "dernier", "secret", "ancien", "bleu", "lointain")
_ADJ_F = ("perdue", "oubliée", "noire", "blanche", "grande", "dernière", "secrète", "ancienne", "bleue",
          "lointaine")
_PLACES = ("Provence", "Bretagne", "Paris", "Lille", "Marseille", "l'Avesnois", "la Sambre", "Normandie",
           "Corse", "Alsace", "Venise", "Tokyo", "Québec", "l'Atlas")
_TOPICS = ("Cuisine facile", "Jardiner au naturel", "Histoire de France", "Guide du Nord", "Les oiseaux",
           "Initiation à la photographie", "Apprendre l'anglais", "Le corps humain", "Les volcans",
           "Bricolage pour tous", "Le code de la route", "Les dinosaures", "Astronomie", "Tricot et crochet")
_DEWEY = ("133", "306", "331", "371", "520", "551", "567", "598", "612", "629", "635", "641", "643", "746",
          "770", "796", "910", "944")
# support, share of the collection, EAN prefix generator
_SUPPORTS = (("livre", 0.62), ("bd", 0.14), ("revue", 0.06), ("cd", 0.07), ("dvd", 0.07), ("jeu", 0.04))


def _title(rng: random.Random, support: str) -> str:
    if support == "revue":
        mag = rng.choice(("Géo", "Ça m'intéresse", "Science & Vie Junior", "Okapi", "J'aime lire", "Que choisir",
                          "Rustica", "Historia"))
        return f"{mag} n° {rng.randint(100, 999)}"
    if support == "jeu":
        return rng.choice(("Le jeu de l'oie", "Mémo des animaux", "Les petits bâtisseurs", "Bataille navale",
                           "Trésors du château", "Mots croisés junior", "Loto des saisons")) + \
            f" ({rng.choice(('3-6 ans', '6-10 ans', 'famille'))})"
    if support == "livre" and rng.random() < 0.06:
        return rng.choice(_TOPICS) + (f" : {rng.choice(('débutants', 'en 100 questions', 'pas à pas'))}"
                                      if rng.random() < 0.5 else "")
    pattern = rng.randrange(8)
    if pattern == 6:
        return f"{rng.choice(_NOUNS_F).capitalize()} {rng.choice(_ADJ_F)}, tome {rng.randint(1, 9)}"
    if pattern == 7:
        return f"Le {rng.choice(_NOUNS_M)} et la {rng.choice(_NOUNS_F)} de {rng.choice(FIRST_NAMES)}"
    if pattern == 0:
        return f"Le {rng.choice(_NOUNS_M)} {rng.choice(_ADJ_M)}"
    if pattern == 1:
        return f"La {rng.choice(_NOUNS_F)} {rng.choice(_ADJ_F)}"
    if pattern == 2:
        return f"Un {rng.choice(_NOUNS_M)} en {rng.choice(_PLACES)}"
    if pattern == 3:
        return f"Les {rng.choice(_NOUNS_F)}s de {rng.choice(_PLACES)}"
    if pattern == 4:
        return f"{rng.choice(_NOUNS_F).capitalize()} et {rng.choice(_NOUNS_M)}"
    return f"Le {rng.choice(_NOUNS_M)} de {rng.choice(FIRST_NAMES)}"


def _cote(rng: random.Random, support: str, author: str) -> str:
    a3 = "".join(c for c in author.upper() if c.isalpha())[:3]
    a3 = a3.translate(str.maketrans("ÉÈÊËÀÂÎÏÔÛÜÇ", "EEEEAAIIOUUC"))
    if support == "livre":
        r = rng.random()
        if r < 0.45:
            return f"R {a3}"
        if r < 0.65:
            return f"J R {a3}"
        if r < 0.75:
            return f"A {a3}"
        return f"{rng.choice(_DEWEY)} {a3}"
    if support == "bd":
        return f"BD {a3}"
    if support == "revue":
        return "REV"
    if support == "cd":
        return f"CD {rng.choice(('1.1', '2.4', '3.2', '9.9'))} {a3}"
    if support == "dvd":
        return f"DVD {rng.choice(('F', 'J', 'DOC'))} {a3}"
    return f"JEU {a3}"


def _ean(rng: random.Random, support: str) -> str:
    if support in ("livre", "bd"):
        stem = rng.choice(("9782", "9782", "9782", "9791")) + f"{rng.randrange(10**8):08d}"
    elif support == "revue":
        stem = "977" + f"{rng.randrange(10**9):09d}"
    else:
        stem = str(rng.randint(300, 379)) + f"{rng.randrange(10**9):09d}"
    return stem + ean13_check_digit(stem)


def _fold(s: str) -> str:
    """Sort key: accents and case ignored (É sorts with E)."""
    import unicodedata

    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii").casefold()


@lru_cache(maxsize=4)
def _roster(seed: int, n: int) -> tuple[tuple[str, str, str], ...]:
    rng = random.Random(seed)
    names = _surnames()
    bases = rng.sample(range(1000, 10000), n)
    fams = []
    for base in bases:
        stem = str(base)
        fams.append((rng.choice(names).upper(), rng.choice(FIRST_NAMES), stem + luhn_check_digit(stem)))
    fams.sort(key=lambda t: (_fold(t[0]), _fold(t[1]), t[2]))
    return tuple(fams)


def sample_roster(seed: int = DEFAULT_SEED, n: int = N_FAMILIES) -> list[dict[str, str]]:
    """`n` synthetic families, sorted by name: ``{"nom", "prenom", "numero_famille"}`` (5 digits, Luhn)."""
    return [{"nom": a, "prenom": b, "numero_famille": c} for a, b, c in _roster(seed, n)]


@lru_cache(maxsize=4)
def _catalog(seed: int, n: int) -> tuple[tuple[str, str, str, str], ...]:
    rng = random.Random(seed + 1)
    names = _surnames()
    supports = [s for s, _ in _SUPPORTS]
    weights = [w for _, w in _SUPPORTS]
    seen: set[str] = set()
    out = []
    while len(out) < n:
        support = rng.choices(supports, weights)[0]
        code = _ean(rng, support)
        if code in seen:
            continue
        seen.add(code)
        author = rng.choice(names)
        out.append((code, _cote(rng, support, author), _title(rng, support), support))
    return tuple(out)


def sample_catalog(seed: int = DEFAULT_SEED, n: int = N_DOCUMENTS) -> list[dict[str, str]]:
    """`n` synthetic library documents: ``{"code_barres", "cote", "titre", "support"}`` (valid EAN-13)."""
    return [{"code_barres": a, "cote": b, "titre": c, "support": d} for a, b, c, d in _catalog(seed, n)]


def reader_card(seq: int) -> str:
    """The card number of the `seq`-th card handed out: the library's prefix, then the sequence number."""
    return f"{READER_CARD_PREFIX}{seq:05d}"


@lru_cache(maxsize=4)
def _readers(seed: int, n: int) -> tuple[tuple[str, str, str], ...]:
    rng = random.Random(seed + 2)
    names = _surnames()
    seqs = rng.sample(range(1, READER_CARDS_ISSUED + 1), n)
    out = [(rng.choice(names).upper(), rng.choice(FIRST_NAMES), reader_card(q)) for q in seqs]
    out.sort(key=lambda t: (_fold(t[0]), _fold(t[1]), t[2]))
    return tuple(out)


def sample_readers(seed: int = DEFAULT_SEED, n: int = N_READERS) -> list[dict[str, str]]:
    """`n` synthetic library readers, sorted by name: ``{"nom", "prenom", "numero_carte"}`` (10 digits)."""
    return [{"nom": a, "prenom": b, "numero_carte": c} for a, b, c in _readers(seed, n)]


ROSTER_COLUMNS = ("nom", "prenom", "numero_famille")
CATALOG_COLUMNS = ("code_barres", "cote", "titre", "support")
READER_COLUMNS = ("nom", "prenom", "numero_carte")


def to_csv(rows: list[dict[str, str]], columns: tuple[str, ...]) -> str:
    """Rows as a `;`-separated CSV text (the format `papier kit build --roster/--catalog` reads)."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([r[c] for c in columns])
    return buf.getvalue()


def write_sample_csvs(folder: str | Path, seed: int = DEFAULT_SEED) -> tuple[Path, Path, Path]:
    """Write familles.csv, catalogue.csv and lecteurs.csv (UTF-8, `;`) into `folder`; returns the three paths."""
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    roster = d / "familles.csv"
    catalog = d / "catalogue.csv"
    readers = d / "lecteurs.csv"
    roster.write_text(to_csv(sample_roster(seed), ROSTER_COLUMNS), encoding="utf-8")
    catalog.write_text(to_csv(sample_catalog(seed), CATALOG_COLUMNS), encoding="utf-8")
    readers.write_text(to_csv(sample_readers(seed), READER_COLUMNS), encoding="utf-8")
    return roster, catalog, readers
