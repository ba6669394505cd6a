"""The method as a governor reads it, in bokmål, rendered from the configuration: one text for the
workbooks' ``Metode`` sheet and the dashboard's ``metode.html``, so the two cannot disagree with each
other or with the run.
"""

from __future__ import annotations

from pipelines.config import Config
from pipelines.indicators.coverage import DataGaps, gap_notes, rule_note
from pipelines.selection.ranks import JOINT_PROBABILITY
from pipelines.selection.sensitivity import limit_variants, variants
from pipelines.vocabulary import (
    AREA_LABELS,
    AREAS,
    BORDERLINE,
    CLEAR_CANDIDATE,
    CLEARLY_NOT,
    JOINT_CONFIDENCE,
    NOT_ASSESSED,
    SOURCE_LABELS,
    SOURCES,
    UDIR_TIED_AT_CUTOFF,
    UDIR_TOO_LITTLE_DATA,
)

# Norwegian writes small counts in words in running text ("teller tre ganger").
_NUMBER_WORDS = {2: "to", 3: "tre", 4: "fire", 5: "fem", 6: "seks", 7: "sju", 8: "åtte", 9: "ni", 10: "ti"}


def decimal(value: float) -> str:
    """``2.0`` → ``2``, ``1.5`` → ``1,5``: no trailing zeros, a decimal comma."""
    return f"{value:.2f}".rstrip("0").rstrip(".").replace(".", ",")


def percent(share: float) -> str:
    """A share as a Norwegian percentage: ``0.25`` → ``25 %``, ``0.125`` → ``12,5 %``."""
    return f"{decimal(share * 100)} %"


def whole_number(value: int) -> str:
    """``10000`` → ``10 000``, with a non-breaking space between the thousands."""
    return f"{value:,}".replace(",", "\u00a0")


def listing(items: list[str]) -> str:
    """``a, b og c``."""
    return ", ".join(items[:-1]) + " og " + items[-1] if len(items) > 1 else "".join(items)


def partial_rule_mark(gaps: DataGaps) -> str:
    """What follows "Udirs regel" or "Udir-kategori" wherever a category is shown that was computed
    without some of the rule's figures (empty when the rule had them all)."""
    return " (ufullstendig: tall mangler)" if gaps.missing_rule_years else ""


def _udir_rule(config: Config, gaps: DataGaps | None) -> str:
    selection = config.selection
    rule = [i for i in config.for_owner("kommune") if i.udir_rule]
    weighted = sorted({i.risk_point_weight for i in rule if i.risk_point_weight > 1})
    weights = "".join(
        f" Risikopoeng for {listing([f'«{i.label}»' for i in rule if i.risk_point_weight == weight])} "
        f"teller {_NUMBER_WORDS.get(weight, str(weight))} ganger."
        for weight in weighted
    )
    return (
        f"For hver indikator og hvert av skoleårene {listing(config.window())} får kommunen 1 risikopoeng "
        "når den er svakere enn landet, og 3 når den er svakere enn den absolutte grensen."
        f"{weights} Andel risikopoeng er poengene delt på de mulige poengene. Kategori 1 er de "
        f"{selection.category_1_count} kommunene med høyest andel. Kategori 2 er inntil "
        f"{selection.category_2_max} kommuner til der andelen risikopoeng spriker med mer enn "
        f"{decimal(selection.category_2_spread * 100)} prosentpoeng mellom kommunens egne skoler, og der "
        f"minst én skole er blant de {percent(selection.category_2_worst_school_share)} svakeste i landet."
        f"{_udir_clarifications(config)}"
        + (f" {rule_note(gaps, config)}".rstrip() if gaps is not None else "")
    )


def _udir_clarifications(config: Config) -> str:
    """What the published rule leaves open, as this project settles it (pipelines/selection/udir_rule)."""
    selection = config.selection
    worst = percent(selection.category_2_worst_school_share)
    minimum = (
        f" En kommune som har færre mulige poeng enn {percent(selection.minimum_possible_share)} av "
        "poengene som er mulige med tall for alle indikatorene og årene, rangeres ikke, men står som "
        f"«{UDIR_TOO_LITTLE_DATA}» (denne grensen er prosjektets, ikke Udirs)."
        if selection.minimum_possible_share > 0
        else ""
    )
    small = (
        f" Et tall fra færre enn {selection.minimum_pupils} elever gir verken risikopoeng eller mulige "
        "poeng: Udir publiserer ikke slike tall, og regelen bygger på tallene som kan publiseres."
    )
    return (
        f"{small}{minimum} Kommuner med lik andel står etter kommunenummer, for regelen skiller ikke "
        "mellom dem; "
        f"der flere har samme andel som den siste i kategori 1, står det «{UDIR_TIED_AT_CUTOFF}» og hvor "
        f"mange kommuner som deler andelen. En skole er blant de {worst} svakeste når skolene med like "
        f"høy eller høyere andel risikopoeng er høyst {worst} av skolene: skoler med lik andel regnes "
        f"med alle sammen eller ingen av dem, så aldri flere enn {worst}."
    )


def _estimand(config: Config) -> str:
    """What a kommune's level is, as the configuration decides (``[holistic] estimand``); without the
    model the kommune's own figures are its level, schools and all."""
    owner = "Skolenes varige forskjeller regnes som en del av kommunens nivå, fordi kommunen er skoleeier."
    private = (
        "Kommunens tall gjelder elevene på alle skolene i kommunen, også de private: eksportene sier ikke "
        "hvem som eier en skole, så en kommune kan komme høyt på listen på grunn av en privat skole."
    )
    if not config.holistic.shrinkage:
        return f"{owner} {private}"
    schools = (
        "Skolenes varige forskjeller regnes ikke som en del av kommunens nivå, men som usikkerhet: jo færre "
        "skoler kommunen har, desto større."
        if config.holistic.estimand == "kommune_only"
        else f"{owner} En kommune med én eller to skoler kan derfor ligge langt fra de andre, og trekkes "
        f"mindre mot gjennomsnittet enn en by. {private}"
    )
    return (
        f"{schools} Innen hvert område teller indikatorene likt, og det én indikator viser og de andre "
        "ikke, regnes som en del av området, ikke som usikkerhet."
    )


def _holistic(config: Config, gaps: DataGaps | None) -> str:
    holistic = config.holistic
    lost = set(gaps.missing_indicators["kommune"]) if gaps is not None else set()
    indicators = [i for i in config.for_owner("kommune") if i.id not in lost]
    sources = [SOURCE_LABELS[s] for s in SOURCES if any(i.source == s for i in indicators)]
    areas = [a for a in AREAS if any(i.area == a for i in indicators)]
    if len(areas) == 1:
        weighing = ""
    elif len({holistic.area_weights[a] for a in areas}) == 1:
        weighing = ", som veier likt"
    else:
        weighing = ", med vektene " + listing(
            [f"{AREA_LABELS[a]} {decimal(holistic.area_weights[a])}" for a in areas]
        )
    shrinkage = (
        "En statistisk modell (flerdimensjonal Fay–Herriot) skiller hver kommunes varige nivå fra "
        "tilfeldige utslag: elevenes målefeil (Udirs usikkerhet, regnet om fra 95 %-intervall til "
        "standardfeil), svingninger fra år til år i kommunen og i enkeltskoler, og hvor mye "
        "indikatorene henger sammen. Små kommuner trekkes derfor mot gjennomsnittet, slik at de ikke "
        "velges ut av tilfeldigheter, og et tall som er skjult fylles ut fra kommunens andre tall, med "
        "større usikkerhet. Usikkerheten i modellens egne anslag er tatt med (parametrisk bootstrap)."
        if holistic.shrinkage
        else "Tallene trekkes ikke mot gjennomsnittet (uten modell): kommunens egne tall over årene."
    )
    return (
        f"Tallene fra {listing(sources)} gjøres om til standardiserte skårer der høyere er svakere. "
        f"{shrinkage} {_estimand(config)} "
        f"Den samlede skåren bygger på {'området' if len(areas) == 1 else 'områdene'} "
        f"{listing([AREA_LABELS[a] for a in areas])}{weighing}, målt i spredningen mellom kommunene. "
        f"Med {whole_number(holistic.draws)} simuleringer "
        f"beregnes sannsynligheten for å være blant de {holistic.top_n} svakeste kommunene, rangeringen "
        "og et 90 % intervall for rangeringen som alltid inneholder den. Listen er laget for å velge ut: "
        "en liste på k kommuner bør ta de k som mest sannsynlig er blant de k svakeste. De "
        f"{holistic.top_n} første på listen er derfor de som mest sannsynlig er blant de {holistic.top_n} "
        "svakeste, ordnet etter den sannsynligheten. Etter dem følger en kommunes plass den korteste "
        "slike listen den kommer med på (ved likhet forventet plass)."
    )


def _joint(config: Config) -> str:
    top_n = config.holistic.top_n
    confidence, probability = percent(JOINT_CONFIDENCE), percent(JOINT_PROBABILITY)
    return (
        f"«Blant de {top_n} svakeste (samlet {confidence})»: kommunene øverst på listen som alle sammen er "
        f"blant de {top_n} svakeste. «Ikke blant de {top_n} svakeste (samlet {confidence})»: kommunene "
        f"nederst på listen der ikke én eneste er blant de {top_n} svakeste. Utsagnene skal holde minst "
        f"{confidence} av gangene. Modellen er litt for sikker ytterst på listen, så de lages der den gir "
        f"minst {probability} sannsynlighet; grensen er valgt i valideringen på simulerte data."
    )


def _tiers(config: Config, precision: dict[str, float] | None) -> str:
    high = config.holistic.candidate_probability
    low = config.holistic.not_candidate_probability
    measured = (
        f" Terskelen for «{CLEAR_CANDIDATE}» er valgt på simulerte data der fasiten er kjent. Der var "
        f"«{CLEAR_CANDIDATE}» faktisk blant de {config.holistic.top_n} svakeste i "
        + listing(
            [f"{round(share * 100):d} % ({name.replace('_', ' ')})" for name, share in precision.items()]
        )
        + " av tilfellene (se valideringen)."
        if precision
        else ""
    )
    return (
        f"«{CLEAR_CANDIDATE}»: sannsynlighet minst {percent(high)}; "
        f"«{BORDERLINE}»: {decimal(low * 100)}–{percent(high)}; "
        f"«{CLEARLY_NOT}»: under {percent(low)}; «{NOT_ASSESSED}»: for få tall til en helhetlig vurdering."
        f"{measured}"
    )


def _sensitivity(config: Config) -> str:
    changed = [v.name for v in variants(config) if v.choice != "grunnvalg"]
    limits = [name for name, _ in limit_variants(config)]
    return (
        f"Utvalget er regnet ut på nytt med ett valg endret om gangen: {listing(changed)} i den helhetlige "
        f"vurderingen, og Udirs regel med {listing(limits)} (5 %) og med det andre vinduet. "
        "Kommuneprofilen viser hvilke av disse valgene som endrer om kommunen kommer med."
    )


def _counties(config: Config) -> str:
    labels = [i.label for i in config.for_owner("fylkeskommune")]
    return (
        "Fylkeskommunene vurderes for seg, med den helhetlige metoden på sine egne indikatorer "
        f"({listing(labels)}): sannsynligheten for å være blant de {config.holistic.fylkeskommune_top_n} "
        "svakeste. Udirs regel gjelder kommunene og brukes ikke på fylkeskommunene."
        if labels
        else "Ingen indikatorer for fylkeskommunene er satt opp, så de vurderes ikke."
    )


def method_sections(
    config: Config, gaps: DataGaps | None = None, precision: dict[str, float] | None = None
) -> list[tuple[str, str]]:
    """The method in (title, text) pairs, in reading order; with ``gaps`` (what the run's data lacked),
    first what the selection is without, and the method as it ran on the data there were; with
    ``precision`` (per validation scenario, :func:`clear_candidate_precision`), how often the top tier was
    right in simulation."""
    notes = gap_notes(gaps, config) if gaps is not None else []
    return [
        *([("Datagrunnlag", " ".join(notes))] if notes else []),
        ("Udirs regel", _udir_rule(config, gaps)),
        ("Helhetlig vurdering", _holistic(config, gaps)),
        ("Nivå", _tiers(config, precision)),
        ("Samlet utsagn", _joint(config)),
        ("Følsomhet", _sensitivity(config)),
        ("Fylkeskommuner", _counties(config)),
        (
            "Personvern",
            f"Tall fra færre enn {config.selection.minimum_pupils} elever vises ikke. Flere tall "
            "skjules der et skjult tall ellers kunne regnes ut av dem som vises (for eksempel "
            "kommunetallet minus de viste skolene, fylket minus de viste kommunene), og der de "
            "skjulte tallene samlet kunne regnes ut og bygger på færre enn "
            f"{config.selection.minimum_pupils} elever. Dette gjelder skoler, kommuner, fylker og "
            "landet for hver indikator og hvert skoleår.",
        ),
    ]
