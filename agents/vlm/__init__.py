"""Vision-language models for rewards: the open_clip embedder, VLM-RM's CLIP reward, the studio's own CLIP."""
