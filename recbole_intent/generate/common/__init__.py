"""What both Stage 1 pipelines share: settings, data (atomic files in/out), prompts, validate, cache, backends +
llm_client (LLM calls), report, text_embed (the offline text encoder), backbone (RecBole settings of the backbones
Stage 1 trains)."""
