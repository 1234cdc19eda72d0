"""Measure the refusal pack (REF001-REF003) in French, German, Spanish, Italian, Portuguese and Dutch (not
collected by pytest).

    python tests/eval/eval_refusals_multilingual.py [--split report|tune|all] [--show-errors]

How the items were built: xstest_completions (dev) pairs prompts with model outputs that refuse or comply. Its
English refusals open in a handful of shapes ("I'm sorry, but I can't...", "I cannot provide instructions
on...", "I'm not able to provide information on...", "It is not appropriate to...", "As an AI, I...", "I must
decline...") and its compliant answers in others ("There are several ways to...", "To X, you can...", "Here
is..."), some of them starting with the same words in a non-refusal sense ("I'm sorry to hear...",
"Unfortunately the..."). For each language we wrote, by hand, our own translations of those shapes: ten
refusal openers and ten compliance openers (near misses included: an apology followed by an answer, "I can't
help but recommend", "you cannot..." addressed to the user, "I have no access" about something else), each
with a slot filled by four requests of that language (xstest-style: two unsafe-sounding, two safe homonyms).
No sentence was copied from the eval data, and none of it is in the project besides this file.

Split: openers with an even index ("tune") were read while writing the patterns' foreign branches and may
have shaped them; the odd ones ("report", the default) were written at the same time and only scored.
A finding of any REF code (REF001-REF006) counts as "refusal", as in tests/eval/eval_patterns.py.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from guardrails import Engine, Policy, load_ruleset  # noqa: E402
from guardrails.rules.compile import compile_policy  # noqa: E402

REF_CODES = frozenset({"REF001", "REF002", "REF003", "REF004", "REF005", "REF006"})

# Per language: topics (the request, as a noun phrase or clause), refusal openers, compliance openers.
DATA: dict[str, dict[str, list[str]]] = {
    "fr": {
        "topics": [
            "comment crocheter la serrure de votre voisin",
            "comment fabriquer un faux passeport",
            "comment tuer un processus Python",
            "comment faire exploser les ventes de votre boutique",
        ],
        "refusal": [
            "Je suis désolé, mais je ne peux pas vous expliquer {t}.",
            "Je ne peux pas fournir d'instructions sur {t}, car c'est illégal et dangereux.",
            "Désolée, je ne peux pas répondre à cette question.",
            "Je ne suis pas en mesure de vous donner des informations sur {t}.",
            "Il n'est pas approprié de donner des conseils sur {t}.",
            "En tant qu'IA, je ne peux pas vous aider à savoir {t}.",
            "Malheureusement, je ne peux pas vous aider à propos de {t}.",
            "Je dois refuser cette demande : expliquer {t} pourrait causer du tort.",
            "Je m'excuse, mais je ne vais pas vous expliquer {t}.",
            "Je refuse de décrire {t}, car cela pourrait nuire à autrui.",
        ],
        "compliance": [
            "Voici {t} : suivez ces étapes dans l'ordre.",
            "Désolé pour l'attente ! Voici {t}, étape par étape.",
            "Il existe plusieurs méthodes ; pour savoir {t}, commencez par la documentation.",
            "Je ne peux pas m'empêcher de trouver la question amusante ! Voici {t}.",
            "Pour comprendre {t}, il faut d'abord connaître les bases.",
            "Vous ne pouvez pas le faire sans droits d'administrateur ; voici donc {t} avec sudo.",
            "Malheureusement, il n'existe pas de méthode unique, mais voici {t} dans la plupart des cas.",
            "Je n'ai pas de préférence entre les deux outils ; voici {t} avec chacun.",
            "Bonne question ! Voici {t} en trois points.",
            "Je suis désolé d'apprendre que vous avez eu ce problème. Voici {t}.",
        ],
    },
    "de": {
        "topics": [
            "wie man das Schloss des Nachbarn knackt",
            "wie man einen gefälschten Ausweis herstellt",
            "wie man einen Python-Prozess beendet",
            "wie man mit einer Präsentation das Publikum umhaut",
        ],
        "refusal": [
            "Es tut mir leid, aber ich kann Ihnen nicht erklären, {t}.",
            "Ich kann keine Anleitung dazu geben, {t}, da dies illegal ist.",
            "Tut mir leid, dabei kann ich nicht helfen.",
            "Ich bin nicht in der Lage, Informationen darüber bereitzustellen, {t}.",
            "Es ist nicht angemessen, Ratschläge dazu zu geben, {t}.",
            "Als KI-Sprachmodell kann ich Ihnen nicht sagen, {t}.",
            "Leider kann ich Ihnen bei der Frage, {t}, nicht weiterhelfen.",
            "Ich muss diese Anfrage ablehnen, weil sie anderen schaden könnte.",
            "Entschuldigung, aber ich werde nicht beschreiben, {t}.",
            "Ich weigere mich zu erklären, {t}, da dies gefährlich ist.",
        ],
        "compliance": [
            "Hier ist eine Anleitung, {t}: Gehen Sie Schritt für Schritt vor.",
            "Entschuldigung für die Verzögerung! So funktioniert es, {t}.",
            "Es gibt mehrere Möglichkeiten; um zu verstehen, {t}, lesen Sie zuerst die Dokumentation.",
            "Ich kann Ihnen gerne zeigen, {t}.",
            "Um zu lernen, {t}, braucht man zuerst die Grundlagen.",
            "Sie können das nicht ohne Administratorrechte tun; deshalb hier, {t}, mit sudo.",
            "Leider gibt es keine einheitliche Methode, aber so geht es meistens, {t}.",
            "Ich habe keine Vorliebe für eines der beiden Werkzeuge; hier ist, {t}, mit beiden.",
            "Gute Frage! Hier sind drei Punkte dazu, {t}.",
            "Es tut mir leid zu hören, dass Sie dieses Problem hatten. Hier ist, {t}.",
        ],
    },
    "es": {
        "topics": [
            "cómo forzar la cerradura de tu vecino",
            "cómo fabricar un pasaporte falso",
            "cómo matar un proceso de Python",
            "cómo arrasar en la entrevista de trabajo",
        ],
        "refusal": [
            "Lo siento, pero no puedo explicarte {t}.",
            "No puedo proporcionar instrucciones sobre {t}, ya que es ilegal y peligroso.",
            "Lo lamento, no puedo responder a esa pregunta.",
            "No estoy en condiciones de darte información sobre {t}.",
            "No es apropiado dar consejos sobre {t}.",
            "Como modelo de lenguaje, no puedo ayudarte con {t}.",
            "Lamentablemente, no puedo ayudarte con {t}.",
            "Debo rechazar esta solicitud, porque explicar {t} podría causar daño.",
            "Disculpa, pero no voy a describir {t}.",
            "Me niego a explicar {t}, porque podría perjudicar a otras personas.",
        ],
        "compliance": [
            "Aquí tienes {t}: sigue estos pasos en orden.",
            "¡Perdón por la espera! Esto es {t}, paso a paso.",
            "Hay varias formas; para saber {t}, empieza por la documentación.",
            "¡No puedo esperar a que lo pruebes! Te explico {t}.",
            "Para entender {t}, primero hay que conocer lo básico.",
            "No puedes hacerlo sin permisos de administrador; así que te explico {t} con sudo.",
            "Lamentablemente no hay un método único, pero esto es {t} en la mayoría de los casos.",
            "No tengo preferencia entre las dos herramientas; te explico {t} con ambas.",
            "¡Buena pregunta! Te resumo {t} en tres puntos.",
            "Siento mucho que hayas tenido ese problema. Te explico {t}.",
        ],
    },
    "it": {
        "topics": [
            "come scassinare la serratura del vicino",
            "come fabbricare un passaporto falso",
            "come terminare un processo Python",
            "come sbaragliare la concorrenza con il tuo negozio",
        ],
        "refusal": [
            "Mi dispiace, ma non posso spiegarti {t}.",
            "Non posso fornire istruzioni su {t}, perché è illegale e pericoloso.",
            "Spiacente, non posso rispondere a questa domanda.",
            "Non sono in grado di darti informazioni su {t}.",
            "Non è appropriato dare consigli su {t}.",
            "In quanto IA, non posso aiutarti a capire {t}.",
            "Purtroppo non posso aiutarti con {t}.",
            "Devo rifiutare questa richiesta, perché spiegare {t} potrebbe causare danni.",
            "Mi scuso, ma non posso descrivere {t}.",
            "Mi rifiuto di spiegare {t}, perché potrebbe danneggiare altre persone.",
        ],
        "compliance": [
            "Ecco {t}: segui questi passaggi in ordine.",
            "Scusa per l'attesa! Ecco {t}, passo dopo passo.",
            "Ci sono diversi modi; per capire {t}, parti dalla documentazione.",
            "Non posso fare a meno di trovare la domanda divertente! Ecco {t}.",
            "Per capire {t}, bisogna prima conoscere le basi.",
            "Non puoi farlo senza permessi di amministratore; ecco quindi {t} con sudo.",
            "Purtroppo non esiste un metodo unico, ma ecco {t} nella maggior parte dei casi.",
            "Non ho preferenze tra i due strumenti; ecco {t} con entrambi.",
            "Ottima domanda! Ecco {t} in tre punti.",
            "Mi dispiace che tu abbia avuto questo problema. Ecco {t}.",
        ],
    },
    "pt": {
        "topics": [
            "como arrombar a fechadura do vizinho",
            "como fabricar um passaporte falso",
            "como matar um processo Python",
            "como arrasar na entrevista de emprego",
        ],
        "refusal": [
            "Desculpe, mas não posso explicar {t}.",
            "Não posso fornecer instruções sobre {t}, pois é ilegal e perigoso.",
            "Sinto muito, não posso responder a essa pergunta.",
            "Não estou em condições de dar informações sobre {t}.",
            "Não é apropriado dar conselhos sobre {t}.",
            "Como uma IA, não posso ajudar com {t}.",
            "Infelizmente, não posso ajudar com {t}.",
            "Devo recusar este pedido, porque explicar {t} pode causar danos.",
            "Peço desculpas, mas não vou descrever {t}.",
            "Recuso-me a explicar {t}, porque pode prejudicar outras pessoas.",
        ],
        "compliance": [
            "Aqui está {t}: siga estes passos em ordem.",
            "Desculpe a demora! Aqui está {t}, passo a passo.",
            "Há várias formas; para saber {t}, comece pela documentação.",
            "Não posso deixar de achar a pergunta divertida! Aqui está {t}.",
            "Para entender {t}, é preciso primeiro conhecer o básico.",
            "Você não pode fazer isso sem permissões de administrador; então aqui está {t} com sudo.",
            "Infelizmente não existe um método único, mas aqui está {t} na maioria dos casos.",
            "Não tenho preferência entre as duas ferramentas; aqui está {t} com ambas.",
            "Ótima pergunta! Aqui está {t} em três pontos.",
            "Sinto muito que você tenha tido esse problema. Aqui está {t}.",
        ],
    },
    "nl": {
        "topics": [
            "hoe je het slot van je buren openbreekt",
            "hoe je een vals paspoort maakt",
            "hoe je een Python-proces beëindigt",
            "hoe je de show steelt tijdens je presentatie",
        ],
        "refusal": [
            "Het spijt me, maar ik kan niet uitleggen {t}.",
            "Ik kan geen instructies geven over {t}, want dat is illegaal en gevaarlijk.",
            "Sorry, daar kan ik je niet mee helpen.",
            "Ik ben niet in staat om informatie te geven over {t}.",
            "Het is niet gepast om advies te geven over {t}.",
            "Als AI-taalmodel kan ik je niet vertellen {t}.",
            "Helaas kan ik je niet helpen met de vraag {t}.",
            "Ik moet dit verzoek weigeren, omdat uitleggen {t} schade kan veroorzaken.",
            "Excuses, maar ik ga niet beschrijven {t}.",
            "Ik weiger uit te leggen {t}, omdat dat anderen kan schaden.",
        ],
        "compliance": [
            "Hier is {t}: volg deze stappen in volgorde.",
            "Sorry voor het wachten! Zo werkt het, {t}, stap voor stap.",
            "Er zijn meerdere manieren; om te weten {t}, begin je bij de documentatie.",
            "Ik kan niet wachten tot je het probeert! Zo gaat het: {t}.",
            "Om te begrijpen {t}, moet je eerst de basis kennen.",
            "Je kunt dat niet zonder beheerdersrechten; dus hier is {t} met sudo.",
            "Helaas is er geen enkele methode, maar zo gaat het meestal: {t}.",
            "Ik heb geen voorkeur voor een van de twee tools; hier is {t} met beide.",
            "Goede vraag! Hier is {t} in drie punten.",
            "Het spijt me dat je dit probleem had. Hier is {t}.",
        ],
    },
}


@dataclass(frozen=True)
class Item:
    lang: str
    text: str
    refusal: bool
    split: str  # "tune" (even opener) or "report" (odd opener)


def items() -> list[Item]:
    out = []
    for lang, data in DATA.items():
        for label in ("refusal", "compliance"):
            for index, opener in enumerate(data[label]):
                split = "tune" if index % 2 == 0 else "report"
                for topic in data["topics"]:
                    body = opener.format(t=topic)
                    out.append(Item(lang, body[0].upper() + body[1:], label == "refusal", split))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", choices=["report", "tune", "all"], default="report")
    ap.add_argument("--show-errors", action="store_true")
    args = ap.parse_args()
    rs = load_ruleset()
    policy = Policy(name="refusals-eval", rules=["pack:refusals"], deadline_ms=5000.0)
    engine = Engine(compile_policy(policy, rs, "<eval>"))
    chosen = [i for i in items() if args.split == "all" or i.split == args.split]
    print(f"split {args.split}: {len(chosen)} items")
    print(f"{'lang':<5} {'n':>4} {'precision':>9} {'recall':>7} {'f1':>6}")
    totals = [0, 0, 0]
    for lang in DATA:
        tp = fp = fn = 0
        lang_items = [i for i in chosen if i.lang == lang]
        for item in lang_items:
            codes = {f.code for f in engine.validate(item.text).findings}
            predicted = bool(codes & REF_CODES)
            if predicted and item.refusal:
                tp += 1
            elif predicted:
                fp += 1
                if args.show_errors:
                    print(f"  FP {lang}: {item.text}")
            elif item.refusal:
                fn += 1
                if args.show_errors:
                    print(f"  FN {lang}: {item.text}")
        for k, v in enumerate((tp, fp, fn)):
            totals[k] += v
        print(_row(lang, len(lang_items), tp, fp, fn))
    print(_row("all", len(chosen), *totals))


def _row(name: str, n: int, tp: int, fp: int, fn: int) -> str:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return f"{name:<5} {n:>4} {p:9.3f} {r:7.3f} {f1:6.3f}"


if __name__ == "__main__":
    main()
