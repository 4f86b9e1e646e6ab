from recbole_intent.model.llm4sbr import LLM4SBR, LLM4SBR_SRGNN
from recbole_intent.model.llmdmsrec import LLMDMsRec, LLMDMsRec_GCSAN, LLMDMsRec_SRGNN
from recbole_intent.model.veli import IntentEnhanced
from recbole_intent.model.veli_models import (
    VELI_GCSAN,
    VELI_NARM,
    VELI_SRGNN,
    VELI_STAMP,
    SPRINT_SASRec,
    VELI_BERT4Rec,
    VELI_GRU4Rec,
    VELI_LightSANs,
    VELI_NextItNet,
    VELI_SASRec,
)

__all__ = [
    "LLM4SBR", "LLM4SBR_SRGNN", "LLMDMsRec", "LLMDMsRec_SRGNN", "LLMDMsRec_GCSAN",
    "IntentEnhanced", "VELI_SASRec", "SPRINT_SASRec", "VELI_GRU4Rec", "VELI_BERT4Rec", "VELI_NARM", "VELI_STAMP",
    "VELI_SRGNN", "VELI_GCSAN", "VELI_NextItNet", "VELI_LightSANs",
]
