"""The curation scorers (OCR, relevance and classifier models) as a configurable resource."""

from collections.abc import Callable

from dagster import ConfigurableResource
from pydantic import Field

from craft_dag.curation.score import Scorers
from craft_dag.curation.scorers import ScorerSettings, build_scorers


class CurationScorersResource(ConfigurableResource):
    """Which costly scorers ``image_scores`` runs on the images that survive the CPU rules."""

    profile: str = Field(default="tiny", description="tiny (CPU, tiny random models) or full.")
    ocr: str = Field(
        default="auto",
        description="Tesseract text and watermark detection: auto (when installed), on, off.",
    )
    relevance_model: str = Field(
        default="",
        description="Image-text model id or path for cultural relevance; empty: the profile's "
        "default; 'off': no relevance score.",
    )
    watermark_model: str = Field(
        default="", description="Image-classification model id or path for watermarks."
    )
    nsfw_model: str = Field(default="", description="Image-classification model id or path.")
    device: str = Field(default="cpu", description="torch device for the models.")
    batch_size: int = Field(default=16, description="Images per model batch.")

    def settings(self) -> ScorerSettings:
        return ScorerSettings(
            profile=self.profile,
            ocr=self.ocr,
            relevance_model=self.relevance_model,
            watermark_model=self.watermark_model,
            nsfw_model=self.nsfw_model,
            device=self.device,
            batch_size=self.batch_size,
        )

    def scorers(self, source_language: str, warn: Callable[[str], None]) -> Scorers:
        return build_scorers(self.settings(), source_language, warn=warn)
