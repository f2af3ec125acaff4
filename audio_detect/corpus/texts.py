"""Texts spoken by the synthetic systems.

Sources, in order: the Asterisk prompt transcripts installed by Debian
(``/usr/share/doc/asterisk-core-sounds-<lang>/core-sounds-<lang>.txt.gz``), a few
built-in call-centre sentences per language, and generated digit strings (account
numbers, card numbers). Texts of similar length to the bona fide prompts keep the
duration distributions of both classes alike.
"""

from __future__ import annotations

import gzip
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["ASTERISK_DOC_DIR", "TextBank", "read_asterisk_transcripts"]

logger = logging.getLogger(__name__)

ASTERISK_DOC_DIR = Path("/usr/share/doc")

#: A few call-centre sentences per language (written for this project, public domain).
BUILTIN_SENTENCES: dict[str, tuple[str, ...]] = {
    "en": (
        "Thank you for calling. Please hold while I transfer you to an agent.",
        "For security reasons, please confirm the last four digits of your card.",
        "I would like to move some money from my savings to my checking account.",
        "Could you please read me the one time code that we just sent to your phone?",
        "Your call may be recorded for quality and training purposes.",
        "I lost my card yesterday and I need to block it right away.",
        "Hello, this is your bank calling about a suspicious payment.",
        "Please say or enter your date of birth, followed by the pound key.",
        "The transfer has been approved and will arrive within two business days.",
        "I am calling because I cannot log in to my online banking anymore.",
    ),
    "es": (
        "Gracias por llamar. Por favor, espere mientras le transfiero con un agente.",
        "Por su seguridad, confirme los últimos cuatro dígitos de su tarjeta.",
        "Quisiera transferir dinero de mi cuenta de ahorros a mi cuenta corriente.",
        "Perdí mi tarjeta ayer y necesito bloquearla ahora mismo.",
        "Su llamada puede ser grabada para fines de calidad.",
    ),
    "fr": (
        "Merci de votre appel. Veuillez patienter, je vous transfère à un conseiller.",
        "Pour votre sécurité, confirmez les quatre derniers chiffres de votre carte.",
        "Je voudrais faire un virement de mon compte épargne vers mon compte courant.",
        "J'ai perdu ma carte hier et je dois la faire opposer immédiatement.",
        "Votre appel peut être enregistré à des fins de qualité.",
    ),
    "it": (
        "Grazie per aver chiamato. Attenda in linea, la trasferisco a un operatore.",
        "Per sicurezza, confermi le ultime quattro cifre della sua carta.",
        "Vorrei trasferire del denaro dal conto risparmio al conto corrente.",
        "Ho perso la carta ieri e devo bloccarla subito.",
    ),
    "ru": (
        "Спасибо за звонок. Пожалуйста, оставайтесь на линии.",
        "В целях безопасности назовите последние четыре цифры вашей карты.",
        "Я хотел бы перевести деньги со сберегательного счёта на текущий.",
        "Вчера я потерял карту и хочу её заблокировать.",
    ),
    "de": (
        "Vielen Dank für Ihren Anruf. Bitte bleiben Sie in der Leitung.",
        "Bitte bestätigen Sie die letzten vier Ziffern Ihrer Karte.",
        "Ich möchte Geld von meinem Sparkonto auf mein Girokonto überweisen.",
        "Ich habe gestern meine Karte verloren und muss sie sofort sperren lassen.",
        "Ihr Gespräch kann zu Qualitätszwecken aufgezeichnet werden.",
    ),
    "pt": (
        "Obrigado por ligar. Por favor, aguarde enquanto transfiro a sua chamada.",
        "Por segurança, confirme os últimos quatro dígitos do seu cartão.",
        "Perdi o meu cartão ontem e preciso de o bloquear agora.",
    ),
    "ca": (
        "Gràcies per trucar. Si us plau, esperi un moment.",
        "Per seguretat, confirmi els últims quatre dígits de la seva targeta.",
        "Vull fer una transferència del compte d'estalvis al compte corrent.",
        "Vaig perdre la targeta ahir i l'he de bloquejar ara mateix.",
    ),
    "cs": (
        "Děkujeme za zavolání. Prosím vydržte, přepojím vás na operátora.",
        "Z bezpečnostních důvodů potvrďte poslední čtyři číslice vaší karty.",
        "Chtěl bych převést peníze ze spořicího účtu na běžný účet.",
        "Včera jsem ztratil kartu a potřebuji ji hned zablokovat.",
    ),
    "fi": (
        "Kiitos soitostasi. Odota hetki, yhdistän sinut asiakaspalvelijalle.",
        "Vahvista turvallisuussyistä korttisi neljä viimeistä numeroa.",
        "Haluaisin siirtää rahaa säästötililtä käyttötilille.",
        "Kadotin korttini eilen ja haluan sulkea sen heti.",
    ),
    "ja": (
        "お電話ありがとうございます。担当者におつなぎしますので、少々お待ちください。",
        "セキュリティのため、カード番号の下四桁を確認させてください。",
        "普通預金から当座預金へ送金したいのですが。",
        "昨日カードをなくしてしまったので、すぐに止めてください。",
    ),
}

_TAG = re.compile(r"^\s*[\[<].*[\]>]\s*$")


def read_asterisk_transcripts(lang: str, *, doc_dir: Path = ASTERISK_DOC_DIR) -> dict[str, str]:
    """Return ``{prompt name: transcript}`` of one Asterisk core-sounds language.

    Parameters
    ----------
    lang : str
        ``en``, ``es``, ``fr``, ``it``, ``ru``...
    doc_dir : Path
        Where the Debian doc folders live.

    Returns
    -------
    dict
        Empty when the package is not installed. Tone descriptions (``[beep]``) are left out.
    """
    path = doc_dir / f"asterisk-core-sounds-{lang}" / f"core-sounds-{lang}.txt.gz"
    if not path.is_file():
        return {}
    out: dict[str, str] = {}
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.startswith(";") or ":" not in line:
                continue
            name, text = line.split(":", 1)
            text = " ".join(text.split())
            if text and not _TAG.match(text):
                out[name.strip()] = text
    return out


@dataclass
class TextBank:
    """Sentences per language, sampled reproducibly.

    Attributes
    ----------
    sentences : dict
        ``{language: [sentence, ...]}``.
    """

    sentences: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def default(cls, *, doc_dir: Path = ASTERISK_DOC_DIR) -> TextBank:
        """Built-in sentences plus every installed Asterisk transcript."""
        bank: dict[str, list[str]] = {k: list(v) for k, v in BUILTIN_SENTENCES.items()}
        for lang in ("en", "es", "fr", "it", "ru"):
            texts = read_asterisk_transcripts(lang, doc_dir=doc_dir)
            words = [t for t in texts.values() if len(t) >= 2]
            bank.setdefault(lang, []).extend(words)
            if words:
                logger.info("%d Asterisk transcripts for %s", len(words), lang)
        return cls(bank)

    def languages(self) -> list[str]:
        """Languages with at least one sentence."""
        return sorted(k for k, v in self.sentences.items() if v)

    def sample(self, rng: np.random.Generator, lang: str, *, target_seconds: float) -> str:
        """A text of about ``target_seconds`` (at ~15 characters per second, 7 for Japanese).

        Joins prompts, sentences and digit strings until long enough, as a call-centre
        prompt chain would.
        """
        pool = self.sentences.get(lang) or self.sentences.get("en") or ["one two three"]
        parts: list[str] = []
        chars = 0
        rate = 7.0 if lang == "ja" else 15.0
        goal = max(8.0, target_seconds * rate)
        while chars < goal:
            # Prefer a part that fits the remaining length (up to 4 draws), as prompts vary
            # from one word to long instructions.
            best = ""
            for _ in range(4):
                if rng.random() < 0.15:
                    cand = digit_string(rng)
                else:
                    cand = pool[int(rng.integers(len(pool)))]
                if not best or abs(len(cand) - (goal - chars)) < abs(len(best) - (goal - chars)):
                    best = cand
            part = best
            part = part.strip()
            if part and part[-1] not in ".!?。":
                part += "."
            parts.append(part)
            chars += len(part)
        return " ".join(parts)


def digit_string(rng: np.random.Generator) -> str:
    """A spaced digit string such as ``4 7 1 0 9 2`` (account, card or PIN numbers)."""
    n = int(rng.integers(4, 11))
    return " ".join(str(int(d)) for d in rng.integers(0, 10, size=n))


def join_texts(texts: Iterable[str]) -> str:
    """Join transcripts of concatenated prompts into one text."""
    return " ".join(t.strip() for t in texts if t and t.strip())
