export const Avatar = ({ src }: { src: string }) => (
  <img src={src} alt=“Profile photo” title=‘Profile’ width={64 – 16} />
);
