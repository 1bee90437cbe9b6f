"""The Qwen2.5-Math evaluator's string rules, as its code applies them: extraction, ``strip_string``, word numbers.

Ported from QwenLM/Qwen2.5-Math ``evaluation/parser.py`` (``extract_answer``, ``strip_string`` and helpers,
``choice_answer_clean``) and word2number 1.1 (``w2n.word_to_num``, which ``strip_string`` calls), quirks
included; ``qwen25.py`` holds the comparison (``math_equal``) and says where this port departs. Pure string
work, no parser, nothing executed.
"""

from __future__ import annotations

import re

CHOICES = ("A", "B", "C", "D", "E")
MAX_RESPONSE_CHARS = 2_000_000  # longer responses keep their last 2M characters (as the project grader)

# parser.py's unit list ("mainly from MathQA"), deleted as whole words anywhere unless skip_unit; each entry
# is used as a regular expression, so "q ." matches "q" + any character, as in the original.
_UNIT_TEXTS = [
    "east", "degree", "mph", "kmph", "ft", "m sqaure", " m east", "sq m", "deg", "mile", "q .", "monkey", "prime",
    "ratio", "profit of rs", "rd", "o", "gm", "p . m", "lb", "tile", "per", "dm", "lt", "gain", "ab", "way", "west",
    "a .", "b .", "c .", "d .", "e .", "f .", "g .", "h .", "t", "a", "h", "no change", "men", "soldier", "pie", "bc",
    "excess", "st", "inches", "noon", "percent", "by", "gal", "kmh", "c", "acre", "rise", "a . m", "th", "π r 2",
    "sq", "mark", "l", "toy", "coin", "sq . m", "gallon", "° f", "profit", "minw", "yr", "women", "feet", "am", "pm",
    "hr", "cu cm", "square", "v â € ™", "are", "rupee", "rounds", "cubic", "cc", "mtr", "s", "ohm", "number", "kmph",
    "day", "hour", "minute", "min", "second", "man", "woman", "sec", "cube", "mt", "sq inch", "mp", "∏ cm ³",
    "hectare", "more", "sec", "unit", "cu . m", "cm 2", "rs .", "rs", "kg", "g", "month", "km", "m", "cm", "mm",
    "apple", "liter", "loss", "yard", "pure", "year", "increase", "decrease", "d", "less", "Surface", "litre",
    "pi sq m", "s .", "metre", "meter", "inch",
]
_UNIT_TEXTS += [text + "s" for text in _UNIT_TEXTS]
_UNITS = [re.compile(r"(^|\W)" + text + r"($|\W)") for text in _UNIT_TEXTS]

# --- word2number 1.1 (w2n.word_to_num) ---------------------------------------------------------------

_NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000, "million": 1000000,
    "billion": 1000000000, "point": ".",
}
_DIGIT_WORDS = list(_NUMBER_WORDS)[:10]


def _formation(words: list[str]):
    numbers = [_NUMBER_WORDS[word] for word in words]
    if len(numbers) == 4:
        return numbers[0] * numbers[1] + numbers[2] + numbers[3]
    if len(numbers) == 3:
        return numbers[0] * numbers[1] + numbers[2]
    if len(numbers) == 2:
        return numbers[0] * numbers[1] if 100 in numbers else numbers[0] + numbers[1]
    return numbers[0]  # IndexError when empty, as in word2number


def word_to_num(sentence: str):
    """``w2n.word_to_num``: the number words anywhere in ``sentence`` (``"no one"`` → 1); ValueError if none."""
    sentence = sentence.replace("-", " ").lower()
    if sentence.isdigit():
        return int(sentence)
    words = [word for word in sentence.strip().split() if word in _NUMBER_WORDS]
    if not words:
        raise ValueError("no number words")
    if any(words.count(scale) > 1 for scale in ("thousand", "million", "billion", "point")):
        raise ValueError("redundant number word")
    decimals: list[str] = []
    if "point" in words:
        decimals, words = words[words.index("point") + 1:], words[: words.index("point")]
    billion, million, thousand = (words.index(w) if w in words else -1 for w in ("billion", "million", "thousand"))
    if (thousand > -1 and (thousand < million or thousand < billion)) or (-1 < million < billion):
        raise ValueError("malformed number")
    total = 0
    if len(words) == 1:
        total += _NUMBER_WORDS[words[0]]
    elif words:
        if billion > -1:
            total += _formation(words[:billion]) * 1000000000
        if million > -1:
            total += _formation(words[billion + 1: million] if billion > -1 else words[:million]) * 1000000
        if thousand > -1:
            start = million + 1 if million > -1 else (billion + 1 if billion > -1 else 0)
            total += _formation(words[start:thousand]) * 1000
        end = len(words) - 1
        if -1 < thousand != end:
            total += _formation(words[thousand + 1:])
        elif -1 < million != end:
            total += _formation(words[million + 1:])
        elif -1 < billion != end:
            total += _formation(words[billion + 1:])
        elif thousand == million == billion == -1:
            total += _formation(words)
    if decimals:
        if all(word in _DIGIT_WORDS for word in decimals):
            total += float("0." + "".join(str(_NUMBER_WORDS[word]) for word in decimals))
    return total


# --- strip_string ------------------------------------------------------------------------------------

def _fix_fracs(string: str) -> str:
    parts = string.split("\\frac")
    new = parts[0]
    for part in parts[1:]:
        new += "\\frac"
        if part[:1] == "{":
            new += part
        elif len(part) < 2:
            return string
        elif part[1] != "{":
            new += "{" + part[0] + "}{" + part[1] + "}" + part[2:]
        else:
            new += "{" + part[0] + "}" + part[1:]
    return new


def _fix_a_slash_b(string: str) -> str:
    if len(string.split("/")) != 2:
        return string
    a, b = string.split("/")
    try:
        a = a if "sqrt" in a else int(a)
        b = b if "sqrt" in b else int(b)
    except ValueError:
        return string
    return f"\\frac{{{a}}}{{{b}}}" if string == f"{a}/{b}" else string


def _convert_word_number(text: str) -> str:
    try:
        return str(word_to_num(text))
    except (ValueError, IndexError, KeyError):
        return text


def _bracketed_alnum(string: str) -> bool:  # always False for a bracketed string, as in the original
    return any(string.startswith(a) and string.endswith(b) and string.isalnum() for a, b in ("{}", "()", "[]"))


def strip_string(string, skip_unit: bool = False) -> str:
    """parser.py's ``strip_string``, step for step (its quirks are the point: see qwen25.py)."""
    string = str(string).strip().replace("\n", "").rstrip(".").replace("\\!", "")
    string = re.sub(r"\\begin\{array\}\{.*?\}", r"\\begin{pmatrix}", string)
    string = re.sub(r"\\end\{array\}", r"\\end{pmatrix}", string).replace("bmatrix", "pmatrix")
    string = string.replace("tfrac", "frac").replace("dfrac", "frac")
    string = string.replace("\\neq", "\\ne").replace("\\leq", "\\le").replace("\\geq", "\\ge")
    string = string.replace("\\left", "").replace("\\right", "")  # substrings: \rightarrow becomes arrow
    string = string.replace("\\{", "{").replace("\\}", "}")
    without_unit = re.sub(r"\\text{.*?}$", "", string).strip()
    if without_unit != "" and without_unit != string:
        string = without_unit
    if not skip_unit:
        for _ in range(2):
            for unit in _UNITS:
                without_unit = unit.sub(r"\1\2", string)
                if without_unit != "":
                    string = without_unit
    string = string.replace("^{\\circ}", "").replace("^\\circ", "")
    string = string.replace("\\$", "").replace("$", "").replace("\\(", "").replace("\\)", "")
    string = _convert_word_number(string)
    string = re.sub(r"\\text\{(.*?)\}", r"\1", string)
    for key in ("x=", "y=", "z=", "x\\in", "y\\in", "z\\in", "x\\to", "y\\to", "z\\to"):
        string = string.replace(key, "")
    string = string.replace("\\emptyset", "{}").replace("(-\\infty,\\infty)", "\\mathbb{R}")
    string = string.replace("\\%", "").replace("%", "")
    string = string.replace(" .", " 0.").replace("{.", "{0.")
    if _bracketed_alnum(string):
        string = string[1:-1]
    string = string.replace("infinity", "\\infty")
    if "\\infty" not in string:
        string = string.replace("inf", "\\infty")
    string = string.replace("+\\inity", "\\infty")
    string = string.replace("and", "").replace("\\mathbf", "")  # "and" anywhere: "band" becomes "b"
    string = re.sub(r"\\mbox{.*?}", "", string)
    if "j" in string and "i" not in string:
        string = string.replace("j", "i")
    string = re.sub(r"(\d+)\.0*([^\d])", r"\1\2", string)
    string = re.sub(r"(\d+)\.0*$", r"\1", string)
    if not string:
        return string
    if string[0] == ".":
        string = "0" + string
    if len(string.split("=")) == 2 and len(string.split("=")[0]) <= 2:
        string = string.split("=")[1]
    string = re.sub(r"\\sqrt(\w+)", r"\\sqrt{\1}", string).replace(" ", "")
    return _fix_a_slash_b(_fix_fracs(string))


# --- extraction --------------------------------------------------------------------------------------

def _until_closing_brace(text: str) -> str:
    """The text before the brace that closes an already open one; all of it when none does (a truncated box)."""
    depth = 1
    for match in re.finditer(r"[{}]", text):
        depth += 1 if match.group() == "{" else -1
        if depth == 0:
            return text[: match.start()]
    return text


def extract_raw(response: str) -> str:
    """``extract_answer`` before its ``strip_string``: Minerva's "final answer is $...$. I hope", else the part
    after the last "boxed" (to its closing brace, or all the rest), "he answer is", "final answer is", "答案是",
    else the last number once every comma is deleted."""
    text = response[-MAX_RESPONSE_CHARS:].replace("\u043a\u0438", "")
    if "final answer is $" in text and "$. I hope" in text:
        pred = text.split("final answer is $", 1)[1].split("$. I hope", 1)[0].strip()
    elif "boxed" in text:
        after = text.rpartition("boxed")[2]
        if not after:
            return ""
        pred = _until_closing_brace(after[1:]) if after[0] == "{" else after.split("$")[0].strip()
    elif "he answer is" in text:
        pred = text.rpartition("he answer is")[2].strip()
    elif "final answer is" in text:
        pred = text.rpartition("final answer is")[2].strip()
    elif "答案是" in text:
        pred = text.split("答案是")[1].strip().split("\n\n")[0].strip()
    else:
        numbers = re.findall(r"-?\d*\.?\d+", text.replace(",", ""))
        pred = numbers[-1] if numbers else ""
    pred = re.sub(r"\n\s*", "", pred)
    if pred[:1] == ":":
        pred = pred[1:]
    if pred[-1:] == ".":
        pred = pred[:-1]
    if pred[-1:] == "/":
        pred = pred[:-1]
    return pred


def choice_in_response(response: str) -> str:
    """parser.py's ``choice_answer_clean`` (math_eval applies it to the whole response when the gold is a letter)."""
    pred = response.strip("\n")
    if any(pred.count(trigger) > 1 for trigger in ("choice is", "answer is")):  # few-shot text: first block
        pred = pred.split("\n\n")[0]
    parts = re.split("choice is|answer is", pred)
    first = len(parts) > 1
    pred = (parts[-1] if first else pred).strip("\n").rstrip(".").rstrip("/").strip(" ").lstrip(":")
    letters = re.findall(r"\b(A|B|C|D|E)\b", pred.upper()) or [pred.strip().strip(".")]
    return (letters[0] if first else letters[-1]).rstrip(".").rstrip("/")


def choice_clean(pred: str) -> str:
    """grader.py's ``choice_answer_clean`` (math_equal's letter check): the last standalone A–E, upper-cased."""
    pred = pred.strip("\n").rstrip(".").rstrip("/").strip(" ").lstrip(":")
    letters = re.findall(r"\b(A|B|C|D|E)\b", pred.upper()) or [pred.strip().strip(".")]
    return letters[-1].rstrip(".").rstrip("/")
