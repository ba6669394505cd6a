"""Elevundersøkelsen's questions → the indicators the exports carry (the survey's per-source mapping).

An index is a pupil's mean answer to its questions (1–5), averaged over the pupils who answered at
least one of them. Mobbing is the share of pupils who answer at least ``BULLIED_FROM`` ("2 eller 3
ganger i måneden" or more often) to any of the bullying questions. Rows of questions not named here
are skipped as the files are read: their files' columns are checked, the rows are neither checked
nor used.
"""

from __future__ import annotations

BULLYING_QUESTIONS = ("mobbet_av_elever", "mobbet_av_voksne", "mobbet_digitalt")
BULLIED_FROM = 3
INDEX_QUESTIONS = {
    "stotte_fra_laererne": ("stotte_laererne_bryr_seg", "stotte_laererne_hjelper"),
    "motivasjon": ("motivasjon_interessert", "motivasjon_lyst_aa_laere"),
    "trivsel": ("trivsel_skolen", "trivsel_klassen"),
    "mestring": ("mestring_klarer_oppgaver", "mestring_klarer_lekser"),
    "vurdering_for_laering": ("vurdering_vet_hva_som_er_bra", "vurdering_hvordan_bli_bedre"),
    "laeringskultur": ("laeringskultur_arbeidsro", "laeringskultur_lov_aa_gjore_feil"),
}
# Question → (indicator, how its answers count): "mean" for an index, "bullied" for the share bullied.
QUESTIONS: dict[str, tuple[str, str]] = {
    **{question: ("mobbing", "bullied") for question in BULLYING_QUESTIONS},
    **{
        question: (indicator, "mean")
        for indicator, questions in INDEX_QUESTIONS.items()
        for question in questions
    },
}
